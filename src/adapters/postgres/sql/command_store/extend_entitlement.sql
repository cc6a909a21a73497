-- name: extend_entitlement
-- access: write
--
-- Moves a running paid entitlement's end later. Same condition as domain::extend_conflict.
-- $1 user id
-- $2 now (epoch µs)
-- $3 record kind
-- $4 reason code
-- $5 actor type, $6 actor id
-- $7 event id
-- $8 traceparent ('' = none)
-- $9 new ends_at (epoch µs)
-- $10 source
-- Returns: one row: (live accounts found 0/1, rows changed 0/1, the previous plan_code,
-- is_paid, starts_at and ends_at (epoch µs), NULL when there was no snapshot).

-- include: command_acc
-- include: entitlement_prev
, put AS (
  UPDATE "user".entitlement_snapshots e
     SET ends_at = "user".from_epoch_us($9), source = $10::text,
         updated_at = "user".from_epoch_us($2)
    FROM acc
   WHERE e.user_id = acc.user_id AND e.is_paid AND e.ends_at > "user".from_epoch_us($2)
     AND e.ends_at < "user".from_epoch_us($9)
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
)
-- include: entitlement_tail
