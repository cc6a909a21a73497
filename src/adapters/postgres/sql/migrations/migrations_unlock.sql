-- name: migrations_unlock
-- access: read
--
-- postgres::migrate (src/adapters/postgres/migrations.cpp): releases the migration lock.
-- $1 the migration lock key
-- Returns: one row: whether the lock was held (bool).

SELECT pg_advisory_unlock($1::bigint)
