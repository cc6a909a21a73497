-- name: idempotency_store_answer
-- access: write
--
-- $1 the Idempotency-Key
-- $2 the answer's HTTP status
-- $3 the answer's body
-- Returns: no rows.

UPDATE "user".idempotency_keys SET status = $2::int, body = $3 WHERE key = $1
