-- name: migrations_applied
-- access: read
--
-- postgres::migrate (src/adapters/postgres/migrations.cpp): the versions applied so far.
-- (no parameters)
-- Returns: (version, name), by version.

SELECT version, name FROM "user".schema_migrations ORDER BY version
