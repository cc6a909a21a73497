#pragma once
// The outbox relay (api.md §10): copies committed rows of "user".event_outbox to the two Redis
// streams, in seq order, and deletes what Redis acknowledged. At least once, in commit order
// per user and stream, across Redis outages and refusals, PostgreSQL restarts, crashes and
// frozen leaders; see docs/architecture.md "Events" for the exact guarantee.
//
// It runs on its OWN thread with its own blocking hiredis connection and its own PostgreSQL
// session (postgres::BlockingSession: non-blocking libpq driven by poll(), so every wait is
// bounded and stop() can cut it short; the generated statements of
// src/adapters/postgres/sql/outbox_relay/, typed Result rows). The namespace stays `redis`:
// the relay is the Redis side of the outbox (src/app wires it as redis::OutboxRelay). Nothing here
// touches the io_context: Redis is never on a request path. Once caught up, the leader polls the
// outbox every 25 ms (no NOTIFY trigger: see poll_interval).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "adapters/redis/connection.h"
#include "adapters/redis/stream_publisher.h"

namespace userservice::telemetry {
class Logger;
class Metrics;
class Tracer;
}  // namespace userservice::telemetry

namespace userservice::redis {

struct OutboxRelayOptions {
  std::string postgres_dsn;
  ConnectOptions redis;
  StreamPublisher domain;     // rows with stream = 'domain'
  StreamPublisher lifecycle;  // rows with stream = 'lifecycle'
  // Client-side bound of one relay statement (also its server-side statement_timeout).
  std::chrono::nanoseconds statement_timeout = std::chrono::seconds(5);
  // Pause between batches once caught up: the publish delay is at most this plus one batch.
  // Polling rather than LISTEN/NOTIFY on purpose: a NOTIFY makes every event-writing commit
  // take PostgreSQL's cluster-wide notify lock (held through the commit's WAL flush), which
  // serialised those commits to a quarter of their throughput in a pgbench run (16 clients,
  // 7.1k -> 1.7k inserts/s). Polling costs the leader ~40 index probes per second instead.
  std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(25);
  // How often a non-leader tries to take over the relay lock.
  std::chrono::nanoseconds leader_retry = std::chrono::seconds(1);
  // The longest a leader that stopped talking to PostgreSQL (a frozen process, a dead network
  // path) keeps the lead: the relay session's idle_session_timeout, after which the server
  // ends the session and its lock goes to another instance. The leader talks at least every
  // quarter of it.
  std::chrono::nanoseconds leader_timeout = std::chrono::seconds(10);
  // A leader whose Redis failed this many cycles in a row hands the lead over, when another
  // instance that reaches Redis is waiting for it.
  int step_down_after = 5;
  // Durable hand-off: Redis replicas that must acknowledge a batch (WAIT) before its rows
  // leave the outbox; 0: the master's acknowledgement is enough.
  int wait_replicas = 0;
  std::chrono::nanoseconds wait_timeout = std::chrono::seconds(1);
  int batch_size = 500;
  // Records a producer span per published event whose request was sampled; null: none.
  const telemetry::Tracer* tracer = nullptr;
};

class OutboxRelay {
 public:
  using Clock = std::chrono::steady_clock;

  // `metrics` may be null. Families are registered here, on the caller's thread.
  OutboxRelay(OutboxRelayOptions options, telemetry::Logger& log, telemetry::Metrics* metrics);
  ~OutboxRelay();  // stop(now) when still running
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Starts the relay thread; it connects (and reconnects) by itself, so this never fails on
  // an unreachable Redis or PostgreSQL.
  void start();

  // Asks the thread to publish what is already committed and end, then joins it. Returns by
  // `deadline`, late by at most one Redis operation (the operation timeout; a connect: at least
  // 1s, and only tried when that fits before the deadline). Idempotent.
  void stop(Clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace userservice::redis
