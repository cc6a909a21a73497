-- name: idempotency_stored_answer
-- access: read
--
-- $1 the Idempotency-Key
-- Returns: (fingerprint, status or NULL while in flight, body) of the key, or no row.

SELECT fingerprint, status, body FROM "user".idempotency_keys WHERE key = $1
