-- name: outbox_relay_backlog_stats
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- Cheap at any size: an exact count up to 10,000 rows (it stops there), beyond that the
-- span of seqs (an upper bound: the gaps are rows published out of order or rolled back);
-- the age through the primary key. Never a full scan of a table that grows during an outage.
-- (no parameters)
-- Returns: one row: (rows up to 10,000, span of seqs, age of the oldest row in seconds).

SELECT (SELECT count(*) FROM (SELECT 1 FROM "user".event_outbox LIMIT 10000) capped),
              coalesce((SELECT max(seq) - min(seq) + 1 FROM "user".event_outbox), 0),
              coalesce(extract(epoch FROM clock_timestamp() -
                  (SELECT occurred_at FROM "user".event_outbox ORDER BY seq LIMIT 1)), 0)
