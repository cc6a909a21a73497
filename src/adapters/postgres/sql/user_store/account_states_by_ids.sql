-- name: account_states_by_ids
-- access: read
--
-- The set form of account_state_by_id, for read coalescing (Statement::coalesced): one
-- execution answers every queued caller; each caller gets the rows of its own key (column 0).
-- $1 user ids (text[] literal, distinct)
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE a.user_id = ANY($1::text[])
