-- name: outbox_relay_delete_published
-- access: write
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- By the exact seqs published, never "seq <= last": a lower seq that was still uncommitted
-- when the batch was read must stay until it is published.
-- $1 the seqs published (bigint[] literal)
-- Returns: no rows.

DELETE FROM "user".event_outbox WHERE seq = ANY($1::bigint[])
