-- name: revoke_entitlement
-- access: write
--
-- Back to the free plan from now. Same condition as domain::revoke_conflict.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 the free plan
-- Returns: one row: (live accounts found 0/1, rows changed 0/1, the previous plan_code,
-- is_paid, starts_at and ends_at (epoch µs), NULL when there was no snapshot).

-- include: command_acc
-- include: entitlement_prev
, put AS (
  UPDATE "user".entitlement_snapshots e
     SET plan_code = $9::text, is_paid = false, starts_at = "user".from_epoch_us($2),
         ends_at = NULL, source = NULL, updated_at = "user".from_epoch_us($2)
    FROM acc
   WHERE e.user_id = acc.user_id AND e.plan_code <> $9::text
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
)
-- include: entitlement_tail
