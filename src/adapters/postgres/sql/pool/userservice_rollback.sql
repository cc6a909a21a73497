-- name: userservice_rollback
-- access: read
-- prepare: no
--
-- DbTransaction::rollback (src/adapters/postgres/pool.cpp); prepared before BEGIN, since an
-- aborted transaction parses nothing but ROLLBACK.
-- (no parameters)
-- Returns: no rows.

ROLLBACK
