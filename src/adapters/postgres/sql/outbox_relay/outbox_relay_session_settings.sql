-- name: outbox_relay_session_settings
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- The relay session's settings (what SET does, for the session).
-- idle_session_timeout: a leader whose process freezes, or whose network path dies, stops
-- sending; the server then ends the session after leader_timeout and the lock is free.
-- enable_bitmapscan, enable_seqscan off: the outbox is a queue, so until VACUUM runs it is
-- mostly dead rows (every published row is deleted), and its statistics say it is small. The
-- planner then picks a bitmap or sequential scan, which visits every dead row on every poll
-- (4 ms a poll at 35,000 dead rows, 40 polls a second). An ordered index scan on
-- (stream, seq) marks the dead entries it meets as killed and skips them from then on
-- (0.2 ms a poll at 35,000). Only this session's statements are affected; a statement with
-- no index path still gets its sequential scan.
-- $1 statement_timeout (ms)
-- $2 idle_session_timeout (ms): the leader timeout
-- Returns: one row: the four values set.

SELECT set_config('statement_timeout', $1, false), set_config('idle_session_timeout', $2, false),
       set_config('enable_bitmapscan', 'off', false), set_config('enable_seqscan', 'off', false)
