-- name: userservice_begin
-- access: read
-- prepare: no
--
-- DbTransaction (src/adapters/postgres/pool.cpp), and each migration's transaction
-- (migrations.cpp): opens the explicit transaction. A transaction command: the protocol's
-- Parse takes it, SQL PREPARE does not (hence `prepare: no`).
-- (no parameters)
-- Returns: no rows.

BEGIN
