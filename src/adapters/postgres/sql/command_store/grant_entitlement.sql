-- name: grant_entitlement
-- access: write
--
-- Replaces the entitlement snapshot (see command_acc for the shared parameters).
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 plan code, $10 is_paid, $11 starts_at (epoch µs), $12 ends_at (epoch µs; NULL: none)
-- $13 source
-- Returns: one row: (live accounts found 0/1, rows changed 0/1, the previous plan_code,
-- is_paid, starts_at and ends_at (epoch µs), NULL when there was no snapshot).

-- include: command_acc
-- include: entitlement_prev
, put AS (
  INSERT INTO "user".entitlement_snapshots AS e (user_id, plan_code, is_paid, starts_at, ends_at,
                                                 source, updated_at)
  SELECT user_id, $9::text, $10::boolean, "user".from_epoch_us($11), "user".from_epoch_us($12),
         $13::text, "user".from_epoch_us($2)
    FROM acc
  ON CONFLICT (user_id) DO UPDATE
     SET plan_code = EXCLUDED.plan_code, is_paid = EXCLUDED.is_paid,
         starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, source = EXCLUDED.source,
         updated_at = EXCLUDED.updated_at
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
)
-- include: entitlement_tail
