-- fragment: listing_where
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The first condition. {cond}: a condition fragment.

WHERE {cond}
