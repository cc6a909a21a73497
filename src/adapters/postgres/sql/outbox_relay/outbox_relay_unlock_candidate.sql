-- name: outbox_relay_unlock_candidate
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Stops standing for leadership.
-- $1 the candidate lock key
-- Returns: one row: whether the lock was held (bool).

SELECT pg_advisory_unlock_shared($1::bigint)
