-- fragment: sanction_tail
--
-- After `put` (the changed active sanction): the record, the events and the answer of a
-- sanction command: (accounts found, rows changed).

, rec AS (
  INSERT INTO "user".sanction_records (user_id, kind, sanction_code, expires_at, reason_code,
                                       actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, sanction_code, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT event_id, stream, event_type, user_id, "user".from_epoch_us($2), payload,
         NULLIF($8::text, '')
    FROM (
      SELECT $7::text AS event_id, 'domain' AS stream, 'user.sanction.changed' AS event_type,
             user_id, 0 AS k,
             json_build_object('user_id', user_id, 'kind', $3::text,
                               'sanction_code', sanction_code, 'active', active,
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
               AS payload
        FROM put
      UNION ALL
      SELECT $10::text, 'lifecycle',
             CASE WHEN active THEN 'user.login_blocked' ELSE 'user.login_unblocked' END,
             user_id, 1,
             json_build_object('user_id', user_id, 'kind', $3::text,
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
        FROM put WHERE $10::text IS NOT NULL
    ) x
   ORDER BY k
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put)
