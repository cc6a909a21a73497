-- name: migrations_status
-- access: read
--
-- postgres::migration_status (src/adapters/postgres/migrations.cpp), `userservice migrate
-- --status`: every applied version, when (RFC 3339, UTC, seconds).
-- (no parameters)
-- Returns: (version, name, applied_at), by version.

SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
  FROM "user".schema_migrations ORDER BY version
