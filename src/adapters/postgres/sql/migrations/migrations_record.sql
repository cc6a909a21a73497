-- name: migrations_record
-- access: write
--
-- postgres::migrate (src/adapters/postgres/migrations.cpp): the bookkeeping row of one
-- migration, in the migration's own transaction.
-- $1 version
-- $2 name
-- Returns: no rows.

INSERT INTO "user".schema_migrations (version, name) VALUES ($1::int, $2::text)
