-- fragment: listing_paid
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- is_paid=true: a paid plan, still active. {now}: parameter.

e.is_paid AND (e.ends_at IS NULL OR e.ends_at > {now})
