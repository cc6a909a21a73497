-- name: entitlement_history
-- access: read
--
-- Keyset pages over (user_id, record_id DESC), the history tables' index.
-- $1 user id
-- $2 record_id bound (exclusive; the cursor, or the largest bigint for a first page)
-- $3 rows
-- Returns: (record_id, kind, reason_code, actor_type, actor_id, recorded_at (epoch µs),
-- plan_code, is_paid, starts_at, ends_at (epoch µs), source), newest first.

SELECT record_id, kind, reason_code, actor_type, actor_id, "user".epoch_us(recorded_at),
       plan_code, is_paid, "user".epoch_us(starts_at), "user".epoch_us(ends_at), source
  FROM "user".entitlement_records WHERE user_id = $1 AND record_id < $2
 ORDER BY record_id DESC LIMIT $3
