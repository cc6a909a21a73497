-- name: set_limit
-- access: write
--
-- A set replaces the whole active row.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 limit code
-- $10 value
-- $11 expires_at (epoch µs; NULL: never)
-- Returns: one row: (live accounts found 0/1, rows changed 0/1).

-- include: command_acc
, put AS (
  INSERT INTO "user".limit_active AS l (user_id, limit_code, value, reason_code, actor_type,
                                        actor_id, applied_at, expires_at)
  SELECT user_id, $9::text, $10::integer, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2), "user".from_epoch_us($11)
    FROM acc
  ON CONFLICT (user_id, limit_code) DO UPDATE
     SET value = EXCLUDED.value, reason_code = EXCLUDED.reason_code,
         actor_type = EXCLUDED.actor_type, actor_id = EXCLUDED.actor_id,
         applied_at = EXCLUDED.applied_at, expires_at = EXCLUDED.expires_at
  RETURNING l.user_id, l.limit_code, l.value, l.expires_at
)
-- include: limit_tail
