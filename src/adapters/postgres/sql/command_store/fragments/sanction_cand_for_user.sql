-- fragment: sanction_cand_for_user
--
-- The `cand` and `due` heads of expire_sanction_for_user (see sanction_expire_body).
-- Commands: the caller's first statement holds the account lock already.

WITH cand AS (
  SELECT user_id, sanction_code FROM "user".sanction_active
   WHERE user_id = $3 AND sanction_code = $8 AND expires_at <= "user".from_epoch_us($1)
     FOR UPDATE
), due AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $3 AND deleted_at IS NULL
)
