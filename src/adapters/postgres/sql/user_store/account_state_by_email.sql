-- name: account_state_by_email
-- access: read
--
-- One account by email, deleted or not.
-- $1 email (normalised)
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE a.email = $1
