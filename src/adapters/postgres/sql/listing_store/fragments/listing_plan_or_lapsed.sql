-- fragment: listing_plan_or_lapsed
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- plan_code = the free plan: also every lapsed plan, which reads as free. {active}: the
-- listing_plan_active condition; {now}: parameter.

(({active}) OR e.ends_at <= {now})
