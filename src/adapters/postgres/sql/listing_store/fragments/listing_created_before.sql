-- fragment: listing_created_before
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- created_before filter. {created}: the driver's created_at column; {created_before}: parameter.

{created} < {created_before}
