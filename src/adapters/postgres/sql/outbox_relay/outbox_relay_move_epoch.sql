-- name: outbox_relay_move_epoch
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- The fence in Redis is above the epoch sequence (a restored or recreated database, Redis
-- kept): the sequence moves past the fence.
-- $1 the fence
-- Returns: one row: the value set.

SELECT setval('"user".outbox_relay_epoch', $1::bigint)
