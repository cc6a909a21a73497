-- The outbox keeps the whole W3C traceparent of the request that wrote the event
-- ("00-<trace id>-<span id>-<flags>"), not only its trace id: the relay publishes the trace
-- id in the event's trace_id field (api.md §10) and records its publish span as a child of
-- the request's server span, honouring the sampled flag.
ALTER TABLE "user".event_outbox RENAME COLUMN trace_id TO traceparent;
