-- fragment: entitlement_cand_due
--
-- The `cand` and `due` heads of sweep_entitlements (see entitlement_expire_body).
-- Sweeper: SKIP LOCKED twice — items another sweeper holds, and users whose account row a
-- command (or another sweeper) holds, are left for a later batch; nothing ever waits.

WITH cand AS (
  SELECT user_id, plan_code, starts_at, ends_at FROM "user".entitlement_snapshots
   WHERE is_paid AND ends_at IS NOT NULL AND ends_at <= "user".from_epoch_us($1)
   ORDER BY ends_at LIMIT $3
     FOR UPDATE SKIP LOCKED
), due AS (
  SELECT a.user_id FROM "user".accounts a WHERE a.user_id IN (SELECT user_id FROM cand)
     FOR UPDATE OF a SKIP LOCKED
)
