-- name: apply_sanction
-- access: write
--
-- A re-apply replaces the whole active row: it always describes the latest apply record.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 sanction code
-- $10 lifecycle event id (NULL: the sanction has none)
-- $11 expires_at (epoch µs; NULL: never)
-- Returns: one row: (live accounts found 0/1, rows changed 0/1).

-- include: command_acc
, put AS (
  INSERT INTO "user".sanction_active AS s (user_id, sanction_code, reason_code, actor_type,
                                           actor_id, applied_at, expires_at)
  SELECT user_id, $9::text, $4::text, $5::text, $6::text, "user".from_epoch_us($2),
         "user".from_epoch_us($11)
    FROM acc
  ON CONFLICT (user_id, sanction_code) DO UPDATE
     SET reason_code = EXCLUDED.reason_code, actor_type = EXCLUDED.actor_type,
         actor_id = EXCLUDED.actor_id, applied_at = EXCLUDED.applied_at,
         expires_at = EXCLUDED.expires_at
  RETURNING s.user_id, s.sanction_code, s.expires_at, true AS active
)
-- include: sanction_tail
