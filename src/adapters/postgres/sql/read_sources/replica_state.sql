-- name: replica_state
-- access: read
--
-- The probe: whether the server is a standby, and how far its replay is behind, in seconds.
-- 0 while its WAL receiver streams and has replayed all it received (an idle primary writes
-- nothing, so "now - last replayed commit" alone would grow on a replica that is not behind);
-- otherwise now - pg_last_xact_replay_timestamp(), or +Infinity when it never replayed one. A
-- server that is no longer in recovery (promoted) is not behind anything.
-- (no parameters)
-- Returns: one row: (in recovery: bool, lag in seconds: float8).

SELECT pg_is_in_recovery(), CASE
WHEN NOT pg_is_in_recovery() THEN 0::float8
WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AND EXISTS
(SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0::float8
ELSE COALESCE(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 'Infinity'::float8) END
