-- name: userservice_ping
-- access: read
--
-- Pool::ping (src/adapters/postgres/pool.cpp): a fresh connection answers at startup.
-- (no parameters)
-- Returns: one row: 1.

SELECT 1
