-- name: remove_sanction
-- access: write
--
-- Removes an active (not lapsed) sanction.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 sanction code
-- $10 lifecycle event id (NULL: the sanction has none)
-- Returns: one row: (live accounts found 0/1, rows changed 0/1).

-- include: command_acc
, put AS (
  DELETE FROM "user".sanction_active s USING acc
   WHERE s.user_id = acc.user_id AND s.sanction_code = $9::text
     AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($2))
  RETURNING s.user_id, s.sanction_code, NULL::timestamptz AS expires_at, false AS active
)
-- include: sanction_tail
