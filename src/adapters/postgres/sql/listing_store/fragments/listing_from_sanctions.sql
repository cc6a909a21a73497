-- fragment: listing_from_sanctions
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- sanction_active drives the page (migrations/0004: its index on the account's created_at).

FROM "user".sanction_active s
    JOIN "user".accounts a ON a.user_id = s.user_id
