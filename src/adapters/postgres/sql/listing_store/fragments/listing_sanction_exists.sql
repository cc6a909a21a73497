-- fragment: listing_sanction_exists
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The sanction condition when another table drives the page. {cond}: listing_sanction.

EXISTS (SELECT 1 FROM "user".sanction_active s
                  WHERE s.user_id = a.user_id AND {cond})
