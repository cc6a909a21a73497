-- name: outbox_relay_candidate_waiting
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Another session holds the candidate lock: an instance that reaches Redis waits to lead.
-- $1 the candidate lock key's high 32 bits (classid)
-- $2 its low 32 bits (objid)
-- Returns: one row: whether another session holds it (bool).

SELECT EXISTS (SELECT 1 FROM pg_locks
                       WHERE locktype = 'advisory' AND granted AND objsubid = 1
                         AND classid = $1::oid AND objid = $2::oid AND pid <> pg_backend_pid())
