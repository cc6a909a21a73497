-- name: ensure_account
-- access: write
--
-- Creates account + free snapshot + user.created unless the email is blocked or any
-- unique key (email, user name, user id) is taken. ON CONFLICT DO NOTHING waits for a
-- concurrent inserter of the same email and then does nothing, so exactly one of many
-- concurrent calls creates the account; email_facts, pipelined after it, runs in a fresh
-- snapshot and sees the winner.
-- $1 email, $2 user id, $3 user name, $4 preferred language, $5 time zone
-- $6 created_at (epoch µs)
-- $7 event id of user.created
-- $8 traceparent ('' = none)
-- Returns: one row (user_id) when the account was created, none otherwise.

WITH ins AS (
         INSERT INTO "user".accounts (user_id, email, user_name, preferred_language, time_zone,
                                      created_at, updated_at)
         SELECT $2, $1, $3, $4, $5, "user".from_epoch_us($6), "user".from_epoch_us($6)
          WHERE NOT EXISTS (SELECT 1 FROM "user".blocked_emails WHERE email = $1)
         ON CONFLICT DO NOTHING
         RETURNING user_id, email, user_name, preferred_language, time_zone, created_at
       ), snap AS (
         INSERT INTO "user".entitlement_snapshots (user_id, plan_code, is_paid, starts_at, updated_at)
         SELECT user_id, 'free', false, created_at, created_at FROM ins
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $7, 'lifecycle', 'user.created', user_id, created_at,
                json_build_object('user_id', user_id, 'email', email, 'user_name', user_name,
                                  'preferred_language', preferred_language,
                                  'time_zone', time_zone,
                                  'created_at', "user".rfc3339(created_at))::text,
                NULLIF($8, '')
           FROM ins
       )
       SELECT user_id FROM ins
