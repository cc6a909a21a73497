-- fragment: listing_created_of_driver
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The driving table's copy of the account's created_at (migrations/0004). {d}: its alias.

{d}.account_created_at
