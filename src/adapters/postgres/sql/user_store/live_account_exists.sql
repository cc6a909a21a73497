-- name: live_account_exists
-- access: read
-- coalesced: live_accounts_exist
-- coalesced_key: 1
--
-- $1 user id
-- Returns: one row: whether a live (not deleted) account has that id (bool).

SELECT EXISTS (SELECT 1 FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL)
