-- name: outbox_relay_heartbeat
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Keeps the leader's session from its idle_session_timeout while it has nothing to do.
-- (no parameters)
-- Returns: one row: 1.

SELECT 1
