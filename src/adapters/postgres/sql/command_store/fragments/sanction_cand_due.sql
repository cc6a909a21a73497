-- fragment: sanction_cand_due
--
-- The `cand` and `due` heads of sweep_sanctions (see sanction_expire_body).
-- Sweeper: SKIP LOCKED twice — items another sweeper holds, and users whose account row a
-- command (or another sweeper) holds, are left for a later batch; nothing ever waits.

WITH cand AS (
  SELECT user_id, sanction_code FROM "user".sanction_active
   WHERE expires_at <= "user".from_epoch_us($1)
   ORDER BY expires_at LIMIT $3
     FOR UPDATE SKIP LOCKED
), due AS (
  SELECT a.user_id FROM "user".accounts a WHERE a.user_id IN (SELECT user_id FROM cand)
     FOR UPDATE OF a SKIP LOCKED
)
