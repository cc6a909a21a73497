-- name: outbox_relay_try_candidate
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Shared advisory lock held by every non-leader whose own Redis connection works: a leader
-- that cannot publish hands over only when one of them is waiting.
-- $1 the candidate lock key
-- Returns: one row: whether the lock was taken (bool).

SELECT pg_try_advisory_lock_shared($1::bigint)
