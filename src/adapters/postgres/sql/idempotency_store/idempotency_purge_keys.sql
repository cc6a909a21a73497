-- name: idempotency_purge_keys
-- access: write
--
-- Oldest first, a batch at a time; SKIP LOCKED: instances sweeping together never wait.
-- $1 batch size
-- Returns: no rows; the command tag counts the keys purged.

DELETE FROM "user".idempotency_keys
        WHERE key IN (SELECT key FROM "user".idempotency_keys WHERE expires_at <= now()
                       ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
