-- fragment: listing_from_accounts
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The accounts drive the page.

FROM "user".accounts a
