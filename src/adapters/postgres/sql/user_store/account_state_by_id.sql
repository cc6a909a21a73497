-- name: account_state_by_id
-- access: read
-- coalesced: account_states_by_ids
-- coalesced_key: 0
--
-- One account by id, deleted or not. Also the account view's and eligibility's read (deleted
-- accounts are filtered after it).
-- $1 user id
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE a.user_id = $1
