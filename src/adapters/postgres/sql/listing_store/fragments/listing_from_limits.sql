-- fragment: listing_from_limits
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- limit_active drives the page (migrations/0004).

FROM "user".limit_active l
    JOIN "user".accounts a ON a.user_id = l.user_id
