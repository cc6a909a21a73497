-- 0002: indexes of the admin listing (api.md §8 "Listing"; src/adapters/postgres/
-- listing_store.cpp). Pages are keyset-ordered by (created_at DESC, user_id DESC); every
-- filter has an index that either yields rows in that order (walk and stop after a page)
-- or finds the few matching users directly (then sort only those). EXPLAIN figures at 1 M
-- accounts: docs/benchmarks.md "Admin listing at 1M accounts" (bench/listing/).
--
-- Plain CREATE INDEX: migrations run inside a transaction (CONCURRENTLY cannot). On a large
-- existing table this locks writes to it for the build; run this migration off-peak.

-- created_at keyset and declared_country: the 0001 indexes again, with deleted_at included,
-- so that one index serves both the default listing (live accounts only: deleted_at IS NULL
-- is checked in the index) and include_deleted=true, as an index-only scan either way.
-- Partial live-only twins would do the same at about twice the size and write cost (at 1 M
-- accounts, built by this migration: 64 + 48 MB for these two; twins would add ~100 MB).
CREATE INDEX accounts_listing_cover_idx
    ON "user".accounts (created_at DESC, user_id DESC) INCLUDE (deleted_at);
DROP INDEX "user".accounts_listing_idx;
CREATE INDEX accounts_declared_country_cover_idx
    ON "user".accounts (declared_country, created_at DESC, user_id DESC) INCLUDE (deleted_at)
    WHERE declared_country IS NOT NULL;
DROP INDEX "user".accounts_declared_country_idx;

-- sanction_code / limit_code filters: the users holding a code, with the expiry that decides
-- whether the item is still active, without visiting the table. Supersede the 0001
-- single-column indexes (same leading column).
CREATE INDEX sanction_active_code_user_idx
    ON "user".sanction_active (sanction_code, user_id) INCLUDE (expires_at);
DROP INDEX "user".sanction_active_code_idx;
CREATE INDEX limit_active_code_user_idx
    ON "user".limit_active (limit_code, user_id) INCLUDE (expires_at);
DROP INDEX "user".limit_active_code_idx;

-- plan_code / is_paid keep the 0001 (plan_code, is_paid) index: plans are few and large (at
-- 1 M accounts the cheapest plan for every plan filter walks accounts_live_listing_idx and
-- probes the snapshot's primary key), so a covering (plan_code, user_id) index would cost
-- ~116 MB without deduplication for a plan the planner hardly ever picks.
-- paid_ends_before: the 0001 partial index on ends_at with the user id included, so the
-- users whose paid period ends in a window come from the index alone. Same key and predicate
-- as before, so the expiry sweeper's "ends_at <= now ORDER BY ends_at" uses it as it did.
CREATE INDEX entitlement_snapshots_paid_ends_user_idx
    ON "user".entitlement_snapshots (ends_at) INCLUDE (user_id)
    WHERE is_paid AND ends_at IS NOT NULL;
DROP INDEX "user".entitlement_snapshots_paid_ends_idx;
