-- name: delete_blocked_email
-- access: write
--
-- $1 email (normalised)
-- Returns: one row when the email was blocked (and no longer is), none otherwise.

DELETE FROM "user".blocked_emails WHERE email = $1 RETURNING 1
