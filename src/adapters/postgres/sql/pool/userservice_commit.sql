-- name: userservice_commit
-- access: write
-- prepare: no
--
-- DbTransaction::commit (src/adapters/postgres/pool.cpp), and each migration's transaction
-- (migrations.cpp). A write: whether it committed is what a lost answer leaves in doubt.
-- (no parameters)
-- Returns: no rows.

COMMIT
