-- name: account_states_by_ids
-- access: read
--
-- The set form of account_state_by_id, for read coalescing (Statement::coalesced): one
-- execution answers every queued caller; each caller gets the rows of its own key (column 0).
-- The keys come through unnest, not `= ANY($1)`: the pool pads the key array with NULLs so
-- that PostgreSQL settles on the generic plan (pool.cpp, kMinSetElements), and only unnest
-- counts the padding in the custom plans' estimates.
-- $1 user ids (text[] literal, distinct, padded with NULLs)
-- Returns: the account view's rows (fragment account_state_select), one per matching account.

-- include: account_state_select
WHERE a.user_id IN (SELECT k FROM unnest($1::text[]) AS k)
