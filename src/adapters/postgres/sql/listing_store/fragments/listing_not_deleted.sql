-- fragment: listing_not_deleted
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- A live account (the default; include_deleted drops it).

a.deleted_at IS NULL
