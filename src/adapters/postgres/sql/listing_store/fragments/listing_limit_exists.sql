-- fragment: listing_limit_exists
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The limit condition when another table drives the page. {cond}: listing_limit.

EXISTS (SELECT 1 FROM "user".limit_active l
                  WHERE l.user_id = a.user_id AND {cond})
