-- name: update_settings
-- access: write
--
-- Self-service writes run after lock_live_account (its own statement, pipelined first), so the
-- profile_update_block check below sees a block committed while the patch waited for the
-- row lock; concurrent changes of one user serialise there, so "previous" values and outbox
-- order are those of commit order. (FOR UPDATE is repeated: the row is locked already, and it
-- makes the CTE read the newest row version.)
-- $1 user id
-- $2 preferred language (NULL: unchanged)
-- $3 time zone (NULL: unchanged)
-- $4 now (epoch µs)
-- $5 event id of user.settings.changed
-- $6 traceparent ('' = none)
-- Returns: one row: (live accounts found 0/1, profile_update_block denials 0/1, rows updated 0/1).

WITH acc AS (
         SELECT user_id, preferred_language, time_zone FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), denied AS (
         SELECT 1 FROM "user".sanction_active s JOIN acc USING (user_id)
          WHERE s.sanction_code = 'profile_update_block'
            AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($4))
       ), upd AS (
         UPDATE "user".accounts a
            SET preferred_language = coalesce($2, acc.preferred_language),
                time_zone = coalesce($3, acc.time_zone),
                updated_at = "user".from_epoch_us($4)
           FROM acc
          WHERE a.user_id = acc.user_id
            AND (coalesce($2, acc.preferred_language) <> acc.preferred_language
                 OR coalesce($3, acc.time_zone) <> acc.time_zone)
            AND NOT EXISTS (SELECT 1 FROM denied)
         RETURNING a.user_id, a.preferred_language, a.time_zone,
                   acc.preferred_language AS previous_language, acc.time_zone AS previous_zone
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $5, 'domain', 'user.settings.changed', user_id, "user".from_epoch_us($4),
                json_build_object('user_id', user_id, 'preferred_language', preferred_language,
                                  'time_zone', time_zone,
                                  'previous_preferred_language', previous_language,
                                  'previous_time_zone', previous_zone)::text,
                NULLIF($6, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM denied), (SELECT count(*) FROM upd)
