-- fragment: command_acc
--
-- The head of every command statement: `acc`, the live account.
-- Parameters shared by every command statement: $1 user, $2 now (epoch µs), $3 record kind,
-- $4 reason_code, $5 actor type, $6 actor id, $7 event id, $8 trace id ('' = none); the
-- command's own values follow from $9. Each answers one row: (accounts found, rows changed,
-- ...). Zero rows changed on a live account is the command's conflict.

WITH acc AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL
)
