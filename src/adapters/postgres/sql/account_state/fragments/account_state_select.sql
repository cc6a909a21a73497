-- fragment: account_state_select
--
-- The account view's stored state in one row: account, entitlement snapshot, and the active
-- sanctions and limits as JSON arrays (expiry is applied by domain::effective_state at read
-- time). Decoded by decode_account_state (account_state.cpp), column by column:
--  0 user_id, 1 email, 2 user_name, 3 preferred_language, 4 time_zone, 5 declared_country,
--  6 created_at, 7 updated_at, 8 deleted_at (epoch µs), 9 plan_code, 10 is_paid,
--  11 starts_at, 12 ends_at (epoch µs), 13 sanctions [[code, reason, applied_at, expires_at]],
--  14 limits [[code, value, reason, applied_at, expires_at]].
-- A statement adds its WHERE clause (alias a: accounts). Also the tail of every admin listing
-- statement (listing_store.cpp), which joins its page as p.

SELECT a.user_id, a.email, a.user_name, a.preferred_language, a.time_zone,
       a.declared_country, "user".epoch_us(a.created_at), "user".epoch_us(a.updated_at),
       "user".epoch_us(a.deleted_at),
       e.plan_code, e.is_paid, "user".epoch_us(e.starts_at), "user".epoch_us(e.ends_at),
       (SELECT json_agg(json_build_array(s.sanction_code, s.reason_code,
                        "user".epoch_us(s.applied_at), "user".epoch_us(s.expires_at)))
          FROM "user".sanction_active s WHERE s.user_id = a.user_id),
       (SELECT json_agg(json_build_array(l.limit_code, l.value, l.reason_code,
                        "user".epoch_us(l.applied_at), "user".epoch_us(l.expires_at)))
          FROM "user".limit_active l WHERE l.user_id = a.user_id)
  FROM "user".accounts a
  LEFT JOIN "user".entitlement_snapshots e ON e.user_id = a.user_id 
