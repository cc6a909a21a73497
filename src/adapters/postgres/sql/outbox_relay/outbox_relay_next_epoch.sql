-- name: outbox_relay_next_epoch
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- The fencing token of a new leader (migrations/0007): strictly increasing across leaders.
-- (no parameters)
-- Returns: one row: the new epoch.

SELECT nextval('"user".outbox_relay_epoch')
