-- name: outbox_relay_session_timeouts
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- The relay session's settings (what SET does, for the session). idle_session_timeout: a
-- leader whose process freezes, or whose network path dies, stops sending; the server then
-- ends the session after leader_timeout and the lock is free.
-- $1 statement_timeout (ms)
-- $2 idle_session_timeout (ms): the leader timeout
-- Returns: one row: the two values set.

SELECT set_config('statement_timeout', $1, false), set_config('idle_session_timeout', $2, false)
