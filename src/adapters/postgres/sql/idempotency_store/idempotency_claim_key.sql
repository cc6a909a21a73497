-- name: idempotency_claim_key
-- access: write
--
-- Times are the database's own clock (now(): the transaction's start), so the time to live
-- and the purge agree whatever the service hosts' clocks say. A key taken already fails with
-- a unique violation of idempotency_keys_pkey.
-- $1 the Idempotency-Key
-- $2 the request's fingerprint
-- $3 time to live (µs)
-- Returns: no rows.

INSERT INTO "user".idempotency_keys (key, fingerprint, created_at, expires_at)
       VALUES ($1, $2, now(), now() + $3::bigint * interval '1 microsecond')
