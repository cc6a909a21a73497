-- name: select_blocked_email
-- access: read
--
-- $1 email (normalised)
-- Returns: (email, reason_code, blocked_at (epoch µs)) when blocked, no row otherwise.

SELECT email, reason_code, "user".epoch_us(blocked_at) FROM "user".blocked_emails
        WHERE email = $1
