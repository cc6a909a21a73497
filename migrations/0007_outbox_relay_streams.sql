-- 0007: what the outbox relay needs to keep the two streams apart and to fence off a stale
-- leader (docs/architecture.md, "Events").
--
-- Each stream's head is read on its own, so that a stream whose oldest event Redis refuses
-- cannot hold the other stream's events back: one index probe per stream instead of a walk
-- through the refused stream's growing backlog. Plain CREATE INDEX inside the migration's
-- transaction: the outbox only holds the unpublished backlog, normally a few rows.
CREATE INDEX event_outbox_stream_seq_idx ON "user".event_outbox (stream, seq);

-- A fresh number for every relay leader. The relay's publish script in Redis refuses a
-- leader whose number is below the highest it has seen: a leader that froze, lost the lead
-- and woke up cannot publish a batch it read before.
CREATE SEQUENCE "user".outbox_relay_epoch AS bigint;
