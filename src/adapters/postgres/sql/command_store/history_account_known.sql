-- name: history_account_known
-- access: read
--
-- Pipelined before a history page: whether the account exists (soft-deleted included).
-- $1 user id
-- Returns: one row: whether the account exists (bool).

SELECT EXISTS (SELECT 1 FROM "user".accounts WHERE user_id = $1)
