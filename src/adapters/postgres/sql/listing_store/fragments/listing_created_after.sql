-- fragment: listing_created_after
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- created_after filter. {created}: the driver's created_at column; {created_after}: parameter.

{created} > {created_after}
