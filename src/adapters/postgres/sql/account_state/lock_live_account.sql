-- name: lock_live_account
-- access: read
--
-- Writers of one user's state lock the account row in a statement of its own, first: in READ
-- COMMITTED each later statement of the transaction then takes its snapshot after the lock
-- was granted, so it sees everything the previous holder committed (a sanction applied while
-- this writer waited, say). A row lock inside the same statement would not: that statement's
-- snapshot predates the wait.
-- $1 user id
-- Returns: one row (user_id) when the account is live, now locked; none otherwise.

SELECT user_id FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
