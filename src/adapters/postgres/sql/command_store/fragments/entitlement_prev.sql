-- fragment: entitlement_prev
--
-- `prev`: the entitlement snapshot before the command.

, prev AS (
  SELECT e.plan_code, e.is_paid, e.starts_at, e.ends_at
    FROM "user".entitlement_snapshots e JOIN acc USING (user_id)
)
