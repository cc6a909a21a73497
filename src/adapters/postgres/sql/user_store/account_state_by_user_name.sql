-- name: account_state_by_user_name
-- access: read
--
-- One account by user name (case-insensitive), deleted or not.
-- $1 user name
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE lower(a.user_name) = lower($1)
