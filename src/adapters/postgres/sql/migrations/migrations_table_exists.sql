-- name: migrations_table_exists
-- access: read
--
-- postgres::migration_status (src/adapters/postgres/migrations.cpp): whether the
-- bookkeeping table exists yet (to_regclass is NULL before the first migration).
-- (no parameters)
-- Returns: one row: whether it exists (bool).

SELECT to_regclass('"user".schema_migrations') IS NOT NULL
