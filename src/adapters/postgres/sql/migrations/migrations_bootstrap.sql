-- name: migrations_bootstrap
-- access: read
-- prepare: no
--
-- postgres::migrate (src/adapters/postgres/migrations.cpp), under the migration lock: the
-- schema and the bookkeeping table, before anything is read from it. A script of two DDL
-- statements, run with the simple-query protocol (SQL PREPARE takes no DDL).
-- (no parameters)
-- Returns: no rows.

CREATE SCHEMA IF NOT EXISTS "user";
CREATE TABLE IF NOT EXISTS "user".schema_migrations (
  version int PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
