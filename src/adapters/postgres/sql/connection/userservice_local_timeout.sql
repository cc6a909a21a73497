-- name: userservice_local_timeout
-- access: read
--
-- Behind a transaction pooler (src/adapters/postgres/connection.cpp): the statement_timeout
-- of this transaction only (is_local), so that it never sticks to a server session other
-- clients get next.
-- $1 statement_timeout (ms)
-- Returns: one row: the value set.

SELECT set_config('statement_timeout', $1, true)
