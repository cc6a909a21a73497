-- 0004: the account's created_at copied into the current tables the listing filters on, so a
-- sanction / limit / plan / paid filter walks its own index in the listing's keyset order
-- ((created_at DESC, user_id DESC)) and stops after a page, instead of walking every account
-- and probing (cost ∝ page_size / selectivity: 16k-54k buffers at 0.3-1% at 1 M accounts;
-- docs/benchmarks.md "Admin listing at 1M accounts").
--
-- accounts.created_at and accounts.user_id are never updated (the service writes them only
-- on INSERT), so the copy is set once, by a BEFORE INSERT trigger: the command SQL stays as
-- it is. ON CONFLICT DO UPDATE keeps the stored copy (it never SETs the column).
--
-- Plain CREATE INDEX and a full-table backfill inside the migration's transaction: on a
-- large existing database this locks writes to these tables for a while; run it off-peak.

CREATE FUNCTION "user".fill_account_created_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
  -- The foreign key to accounts guarantees the row; a NULL here fails the NOT NULL below.
  SELECT a.created_at INTO NEW.account_created_at
    FROM "user".accounts a WHERE a.user_id = NEW.user_id;
  RETURN NEW;
END
$$;

ALTER TABLE "user".sanction_active ADD COLUMN account_created_at timestamptz;
ALTER TABLE "user".limit_active ADD COLUMN account_created_at timestamptz;
ALTER TABLE "user".entitlement_snapshots ADD COLUMN account_created_at timestamptz;

UPDATE "user".sanction_active t SET account_created_at = a.created_at
  FROM "user".accounts a WHERE a.user_id = t.user_id;
UPDATE "user".limit_active t SET account_created_at = a.created_at
  FROM "user".accounts a WHERE a.user_id = t.user_id;
UPDATE "user".entitlement_snapshots t SET account_created_at = a.created_at
  FROM "user".accounts a WHERE a.user_id = t.user_id;

ALTER TABLE "user".sanction_active ALTER COLUMN account_created_at SET NOT NULL;
ALTER TABLE "user".limit_active ALTER COLUMN account_created_at SET NOT NULL;
ALTER TABLE "user".entitlement_snapshots ALTER COLUMN account_created_at SET NOT NULL;

CREATE TRIGGER sanction_active_account_created_at BEFORE INSERT ON "user".sanction_active
    FOR EACH ROW EXECUTE FUNCTION "user".fill_account_created_at();
CREATE TRIGGER limit_active_account_created_at BEFORE INSERT ON "user".limit_active
    FOR EACH ROW EXECUTE FUNCTION "user".fill_account_created_at();
CREATE TRIGGER entitlement_snapshots_account_created_at BEFORE INSERT
    ON "user".entitlement_snapshots
    FOR EACH ROW EXECUTE FUNCTION "user".fill_account_created_at();

-- The keyset walks. expires_at / ends_at are included so the effective-state check
-- (active while NULL or after now) is made in the index, as an index-only scan.
CREATE INDEX sanction_active_listing_idx
    ON "user".sanction_active (sanction_code, account_created_at DESC, user_id DESC)
    INCLUDE (expires_at);
CREATE INDEX limit_active_listing_idx
    ON "user".limit_active (limit_code, account_created_at DESC, user_id DESC)
    INCLUDE (expires_at);
-- plan_code filters other than free (the free filter also matches every lapsed plan, so it
-- walks the accounts): the free rows, most of the table, are left out of the index. The
-- planner proves plan_code = 'paid_…' implies the predicate only with the plan as a
-- constant: the listing plans every execution custom (listing_store.h kListingSettings).
CREATE INDEX entitlement_snapshots_plan_listing_idx
    ON "user".entitlement_snapshots (plan_code, account_created_at DESC, user_id DESC)
    INCLUDE (ends_at) WHERE plan_code <> 'free';
-- is_paid=true and paid_ends_before: the paid snapshots in keyset order.
CREATE INDEX entitlement_snapshots_paid_listing_idx
    ON "user".entitlement_snapshots (account_created_at DESC, user_id DESC)
    INCLUDE (ends_at) WHERE is_paid;

-- Superseded by the two listing indexes above (same leading column, and they hold the
-- expiry too); nothing else looks sanctions or limits up by code (the command paths go by
-- user, through the primary keys). entitlement_snapshots_plan_idx stays: plan_code=free
-- and is_paid=false still walk the accounts.
DROP INDEX "user".sanction_active_code_user_idx;
DROP INDEX "user".limit_active_code_user_idx;
