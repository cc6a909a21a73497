-- name: set_declared_country
-- access: write
--
-- $1 user id
-- $2 declared country (NULL: none)
-- $3 now (epoch µs)
-- $4 event id of user.declared_country.changed
-- $5 traceparent ('' = none)
-- Returns: one row: (live accounts found 0/1, rows updated 0/1, updated_at (epoch µs) after
-- the statement, NULL when no live account).

WITH acc AS (
         SELECT user_id, declared_country, updated_at FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), upd AS (
         UPDATE "user".accounts a SET declared_country = $2, updated_at = "user".from_epoch_us($3)
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.declared_country IS DISTINCT FROM $2
         RETURNING a.user_id, a.updated_at, acc.declared_country AS previous
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $4, 'domain', 'user.declared_country.changed', user_id, updated_at,
                json_build_object('user_id', user_id, 'declared_country', $2::text,
                                  'previous_declared_country', previous)::text,
                NULLIF($5, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM upd),
              coalesce((SELECT "user".epoch_us(updated_at) FROM upd),
                       (SELECT "user".epoch_us(updated_at) FROM acc))
