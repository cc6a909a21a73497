-- fragment: entitlement_tail
--
-- After `put` (the changed snapshot): the record, the event and the answer of an entitlement
-- command: (accounts found, rows changed, previous plan_code, is_paid, starts_at, ends_at).

, rec AS (
  INSERT INTO "user".entitlement_records (user_id, kind, plan_code, is_paid, starts_at, ends_at,
                                          source, reason_code, actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, plan_code, is_paid, starts_at, ends_at, source, $4::text, $5::text,
         $6::text, "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT $7::text, 'domain', 'user.entitlement.changed', p.user_id, "user".from_epoch_us($2),
         json_build_object(
           'user_id', p.user_id, 'kind', $3::text, 'plan_code', p.plan_code,
           'is_paid', p.is_paid, 'starts_at', "user".rfc3339(p.starts_at),
           'ends_at', "user".rfc3339(p.ends_at), 'source', p.source, 'reason_code', $4::text,
           'actor', json_build_object('type', $5::text, 'id', $6::text),
           'previous', CASE WHEN prev.plan_code IS NOT NULL THEN
             json_build_object('plan_code', prev.plan_code, 'is_paid', prev.is_paid,
                               'starts_at', "user".rfc3339(prev.starts_at),
                               'ends_at', "user".rfc3339(prev.ends_at)) END)::text,
         NULLIF($8::text, '')
    FROM put p LEFT JOIN prev ON true
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put), prev.plan_code, prev.is_paid,
       "user".epoch_us(prev.starts_at), "user".epoch_us(prev.ends_at)
  FROM (SELECT 1) AS one LEFT JOIN prev ON true
