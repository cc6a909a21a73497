-- name: update_user_name
-- access: write
--
-- Self-service writes run after lock_live_account (its own statement, pipelined first), so the
-- profile_update_block check below sees a block committed while the patch waited for the
-- row lock; concurrent changes of one user serialise there, so "previous" values and outbox
-- order are those of commit order. (FOR UPDATE is repeated: the row is locked already, and it
-- makes the CTE read the newest row version.)
-- $1 user id
-- $2 new user name
-- $3 now (epoch µs)
-- $4 event id of user.profile.changed
-- $5 traceparent ('' = none)
-- Returns: one row: (live accounts found 0/1, profile_update_block denials 0/1, rows updated 0/1).

WITH acc AS (
         SELECT user_id, user_name FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), denied AS (
         SELECT 1 FROM "user".sanction_active s JOIN acc USING (user_id)
          WHERE s.sanction_code = 'profile_update_block'
            AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($3))
       ), upd AS (
         UPDATE "user".accounts a SET user_name = $2, updated_at = "user".from_epoch_us($3)
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.user_name <> $2
            AND NOT EXISTS (SELECT 1 FROM denied)
         RETURNING a.user_id, acc.user_name AS previous
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $4, 'domain', 'user.profile.changed', user_id, "user".from_epoch_us($3),
                json_build_object('user_id', user_id, 'user_name', $2::text,
                                  'previous_user_name', previous)::text,
                NULLIF($5, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM denied), (SELECT count(*) FROM upd)
