-- name: command_account_state
-- access: read
--
-- The account view after a command, in the command's transaction.
-- $1 user id
-- Returns: the account view's row (fragment account_state_select), or none.

-- include: account_state_select
WHERE a.user_id = $1
