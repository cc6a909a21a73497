-- fragment: listing_country
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- declared_country filter. {country}: parameter.

a.declared_country = {country}
