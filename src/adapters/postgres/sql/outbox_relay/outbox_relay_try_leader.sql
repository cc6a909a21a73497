-- name: outbox_relay_try_leader
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Session advisory lock of the relay leader; one leader per database.
-- $1 the leader lock key
-- Returns: one row: whether this session is the leader now (bool).

SELECT pg_try_advisory_lock($1::bigint)
