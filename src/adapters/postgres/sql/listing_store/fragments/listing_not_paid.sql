-- fragment: listing_not_paid
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- is_paid=false: no paid plan, or a lapsed one. {now}: parameter.

(NOT e.is_paid OR e.ends_at <= {now})
