-- fragment: listing_time_param
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- A time parameter (epoch microseconds) as timestamptz. {param}: the $n.

"user".from_epoch_us({param})
