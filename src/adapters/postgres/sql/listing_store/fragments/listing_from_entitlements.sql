-- fragment: listing_from_entitlements
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- entitlement_snapshots drives the page (a plan or paid filter; migrations/0004).

FROM "user".entitlement_snapshots e
    JOIN "user".accounts a ON a.user_id = e.user_id
