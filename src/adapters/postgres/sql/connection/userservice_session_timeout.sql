-- name: userservice_session_timeout
-- access: read
--
-- Right after a pool connection is opened (src/adapters/postgres/connection.cpp), before
-- pipeline mode: the session's statement_timeout (= the operation timeout), what SET does. Not
-- in the startup packet's `options`, which PgBouncer refuses. Also the migration session's
-- own bound (migrations.cpp): what is left of its deadline, 0 for none.
-- $1 statement_timeout (ms)
-- Returns: one row: the value set.

SELECT set_config('statement_timeout', $1, false)
