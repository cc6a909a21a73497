-- name: migrations_lock
-- access: read
--
-- postgres::migrate (src/adapters/postgres/migrations.cpp): the session advisory lock every
-- instance takes before migrating, so that several starting at once apply each migration
-- exactly once. Waits for the holder (bounded by the session's statement_timeout).
-- $1 the migration lock key
-- Returns: one row: void.

SELECT pg_advisory_lock($1::bigint)
