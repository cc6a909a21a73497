-- name: soft_delete
-- access: write
--
-- Idempotent: a deleted account keeps its first deleted_at and gets no second event.
-- $1 user id
-- $2 now (epoch µs)
-- $3 reason code
-- $4 actor type, $5 actor id
-- $6 event id of user.deleted
-- $7 traceparent ('' = none)
-- Returns: one row: (accounts found 0/1, deleted_at (epoch µs) or NULL when not found).

WITH acc AS (
         SELECT user_id, deleted_at FROM "user".accounts WHERE user_id = $1 FOR UPDATE
       ), upd AS (
         UPDATE "user".accounts a
            SET deleted_at = "user".from_epoch_us($2), updated_at = "user".from_epoch_us($2),
                deleted_reason_code = $3, deleted_actor_type = $4, deleted_actor_id = $5
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.deleted_at IS NULL
         RETURNING a.user_id, a.deleted_at
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $6, 'lifecycle', 'user.deleted', user_id, deleted_at,
                json_build_object('user_id', user_id, 'deleted_at', "user".rfc3339(deleted_at),
                                  'reason_code', $3::text,
                                  'actor', json_build_object('type', $4::text, 'id', $5::text))::text,
                NULLIF($7, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc),
              coalesce((SELECT "user".epoch_us(deleted_at) FROM upd),
                       (SELECT "user".epoch_us(deleted_at) FROM acc))
