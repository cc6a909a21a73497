-- name: limit_history
-- access: read
--
-- Keyset pages over (user_id, record_id DESC), the history tables' index.
-- $1 user id
-- $2 record_id bound (exclusive; the cursor, or the largest bigint for a first page)
-- $3 rows
-- Returns: (record_id, kind, reason_code, actor_type, actor_id, recorded_at (epoch µs),
-- limit_code, value, expires_at (epoch µs)), newest first.

SELECT record_id, kind, reason_code, actor_type, actor_id, "user".epoch_us(recorded_at),
       limit_code, value, "user".epoch_us(expires_at)
  FROM "user".limit_records WHERE user_id = $1 AND record_id < $2
 ORDER BY record_id DESC LIMIT $3
