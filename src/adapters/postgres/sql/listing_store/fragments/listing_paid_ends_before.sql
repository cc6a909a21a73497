-- fragment: listing_paid_ends_before
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- paid_ends_before filter: an active paid plan ending before the bound. {now},
-- {paid_ends_before}: parameters.

e.is_paid AND e.ends_at > {now} AND e.ends_at < {paid_ends_before}
