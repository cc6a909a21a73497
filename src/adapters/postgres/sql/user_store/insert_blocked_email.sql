-- name: insert_blocked_email
-- access: write
--
-- $1 email (normalised)
-- $2 reason code
-- $3 actor type, $4 actor id
-- $5 now (epoch µs)
-- Returns: one row (email) when this call blocked it, none when it was blocked already.

INSERT INTO "user".blocked_emails (email, reason_code, actor_type, actor_id, blocked_at)
       VALUES ($1, $2, $3, $4, "user".from_epoch_us($5))
       ON CONFLICT (email) DO NOTHING
       RETURNING email
