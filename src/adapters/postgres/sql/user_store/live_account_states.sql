-- name: live_account_states
-- access: read
--
-- The live accounts among a set of ids.
-- $1 user ids (text[] literal)
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE a.user_id = ANY($1::text[]) AND a.deleted_at IS NULL
