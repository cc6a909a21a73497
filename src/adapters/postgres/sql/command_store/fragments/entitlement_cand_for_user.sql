-- fragment: entitlement_cand_for_user
--
-- The `cand` and `due` heads of expire_entitlement_for_user (see entitlement_expire_body).
-- Commands: the caller's first statement holds the account lock already.

WITH cand AS (
  SELECT user_id, plan_code, starts_at, ends_at FROM "user".entitlement_snapshots
   WHERE user_id = $3 AND is_paid AND ends_at <= "user".from_epoch_us($1)
     FOR UPDATE
), due AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $3 AND deleted_at IS NULL
)
