-- name: remove_limit
-- access: write
--
-- Removes an active (not lapsed) limit.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 limit code
-- Returns: one row: (live accounts found 0/1, rows changed 0/1).

-- include: command_acc
, put AS (
  DELETE FROM "user".limit_active l USING acc
   WHERE l.user_id = acc.user_id AND l.limit_code = $9::text
     AND (l.expires_at IS NULL OR l.expires_at > "user".from_epoch_us($2))
  RETURNING l.user_id, l.limit_code, NULL::integer AS value, NULL::timestamptz AS expires_at
)
-- include: limit_tail
