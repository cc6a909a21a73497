WITH page AS (
  SELECT e.user_id
    FROM "user".entitlement_snapshots e
    JOIN "user".accounts a ON a.user_id = e.user_id
   WHERE a.deleted_at IS NULL
     AND (e.account_created_at, e.user_id) < ("user".from_epoch_us($1), $2)
     AND e.is_paid AND (e.ends_at IS NULL OR e.ends_at > "user".from_epoch_us($3))
   ORDER BY e.account_created_at DESC, e.user_id DESC
   LIMIT $4
)
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
  JOIN page p ON p.user_id = a.user_id
 ORDER BY a.created_at DESC, a.user_id DESC