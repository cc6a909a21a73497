-- fragment: limit_tail
--
-- After `put` (the changed active limit): the record, the event and the answer of a limit
-- command: (accounts found, rows changed).

, rec AS (
  INSERT INTO "user".limit_records (user_id, kind, limit_code, value, expires_at, reason_code,
                                    actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, limit_code, value, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT $7::text, 'domain', 'user.limit.changed', user_id, "user".from_epoch_us($2),
         json_build_object('user_id', user_id, 'kind', $3::text, 'limit_code', limit_code,
                           'value', value, 'expires_at', "user".rfc3339(expires_at),
                           'reason_code', $4::text,
                           'actor', json_build_object('type', $5::text, 'id', $6::text))::text,
         NULLIF($8::text, '')
    FROM put
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put)
