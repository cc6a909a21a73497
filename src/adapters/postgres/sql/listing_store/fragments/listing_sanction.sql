-- fragment: listing_sanction
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- sanction_code filter on sanction_active s: an active sanction of that code. {sanction},
-- {now}: parameters.

s.sanction_code = {sanction} AND (s.expires_at IS NULL OR s.expires_at > {now})
