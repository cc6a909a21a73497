-- name: outbox_relay_select_heads
-- access: read
--
-- The outbox relay's own session (src/adapters/outbox_relay/relay.cpp), parameters as text.
-- The head of each stream's backlog, oldest first, merged by seq (a stream refusing its first
-- row is left out between retries, so that it cannot hold the other one hostage). Each head
-- walks (stream, seq) (migrations/0007). Rows of transactions still in flight are invisible and
-- come in a later batch; one user's rows are in commit order because writers lock the
-- account row before inserting (seq is taken after the lock).
-- $1 whether the domain stream takes part (bool)
-- $2 whether the lifecycle stream takes part (bool)
-- $3 rows per stream
-- Returns: (seq, event_id, stream, event_type, user_id, occurred_at (RFC 3339), payload,
-- traceparent or '', occurred_at (epoch µs)), by seq.

SELECT seq, event_id, stream, event_type, user_id, "user".rfc3339(occurred_at), payload,
              coalesce(traceparent, ''), "user".epoch_us(occurred_at)
         FROM ((SELECT * FROM "user".event_outbox WHERE stream = 'domain' AND $1::boolean
                 ORDER BY seq LIMIT $3)
               UNION ALL
               (SELECT * FROM "user".event_outbox WHERE stream = 'lifecycle' AND $2::boolean
                 ORDER BY seq LIMIT $3)) heads
        ORDER BY seq
