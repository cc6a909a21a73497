-- fragment: listing_plan_active
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- plan_code filter: the stored plan while active. {plan}, {now}: parameters.

e.plan_code = {plan} AND (e.ends_at IS NULL OR e.ends_at > {now})
