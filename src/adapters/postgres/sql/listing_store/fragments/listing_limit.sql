-- fragment: listing_limit
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- limit_code filter on limit_active l: an active limit of that code. {limit_code}, {now}:
-- parameters.

l.limit_code = {limit_code} AND (l.expires_at IS NULL OR l.expires_at > {now})
