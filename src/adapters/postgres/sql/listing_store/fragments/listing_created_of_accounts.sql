-- fragment: listing_created_of_accounts
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The accounts' created_at, when they drive the page.

a.created_at
