-- name: userservice_deadline_guard
-- access: read
--
-- Connection::run_batch (src/adapters/postgres/connection.cpp): run first in a batched write
-- queued behind another caller's transaction. Raises SQLSTATE UD001 (sqlstate.h,
-- kDeadlinePassed) when the server reaches it after its caller's deadline, so the
-- transaction rolls back instead of committing a change nobody waits for (migrations/0005).
-- $1 the caller's deadline, wall-clock microseconds since the epoch
-- Returns: one row: void.

SELECT "user".deadline_guard($1::bigint)
