-- fragment: listing_after
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The keyset position: strictly after the previous page's last row, as one row comparison
-- that matches the (created_at DESC, user_id DESC) indexes. {created}: the driver's created_at
-- column; {d}: the driving table's alias; {after_created_at}, {after_user_id}: parameters.

({created}, {d}.user_id) < ({after_created_at}, {after_user_id})
