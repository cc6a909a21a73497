-- fragment: listing_and
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- Every further condition. {cond}: a condition fragment.

AND {cond}
