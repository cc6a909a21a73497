-- name: outbox_relay_unlock_leader
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Hands the lead on.
-- $1 the leader lock key
-- Returns: one row: whether the lock was held (bool).

SELECT pg_advisory_unlock($1::bigint)
