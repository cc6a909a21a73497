-- fragment: listing_join_entitlement
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The snapshot for an entitlement filter when another table drives. {d}: the driver's alias.

JOIN "user".entitlement_snapshots e ON e.user_id = {d}.user_id
