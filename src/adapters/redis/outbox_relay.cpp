#include "adapters/redis/outbox_relay.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace userservice::redis {

namespace {

using Clock = OutboxRelay::Clock;
using namespace std::chrono_literals;

// pg_try_advisory_lock key of the relay leader ("usrvrlay"); one leader per database.
constexpr std::string_view kLeaderLockKey = "8463233977810706809";

// Oldest first. Rows of transactions still in flight are invisible and simply come in a later
// batch; every user's rows are in commit order because writers lock the account row before
// inserting (seq is taken after the lock).
constexpr std::string_view kSelectBatch =
    R"(SELECT seq, event_id, stream, event_type, user_id, "user".rfc3339(occurred_at), payload,
              coalesce(traceparent, ''), "user".epoch_us(occurred_at)
         FROM "user".event_outbox ORDER BY seq LIMIT $1)";
// By the exact seqs published, never "seq <= last": a lower seq that was still uncommitted
// when the batch was read must stay until it is published.
constexpr std::string_view kDeletePublished =
    R"(DELETE FROM "user".event_outbox WHERE seq = ANY($1::bigint[]))";
// Count is a scan of a table that is nearly empty while Redis is up; age comes from the
// oldest seq through the primary key.
constexpr std::string_view kBacklogStats =
    R"(SELECT count(*),
              coalesce(extract(epoch FROM clock_timestamp() -
                  (SELECT occurred_at FROM "user".event_outbox ORDER BY seq LIMIT 1)), 0)
         FROM "user".event_outbox)";

constexpr auto kBackoffMin = 100ms;
constexpr auto kBackoffMax = 5s;
constexpr auto kStatsInterval = 1s;

struct PgFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Doubling delay between reconnect attempts, reset by a success.
class Backoff {
 public:
  std::chrono::nanoseconds next() {
    auto d = current_;
    current_ = std::min<std::chrono::nanoseconds>(current_ * 2, kBackoffMax);
    return d;
  }
  void reset() { current_ = kBackoffMin; }

 private:
  std::chrono::nanoseconds current_ = kBackoffMin;
};

struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::int64_t to_int64(const char* text) {
  std::int64_t v = 0;
  std::from_chars(text, text + std::strlen(text), v);
  return v;
}

double seconds_since_epoch_us(std::int64_t epoch_us) {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return static_cast<double>(now_us - epoch_us) / 1e6;
}

struct Row {
  std::int64_t seq = 0;
  bool domain = false;
  std::int64_t occurred_epoch_us = 0;
  StreamEvent event;
  std::string parent_span_id;  // the writing request's server span, from the traceparent
  std::uint32_t trace_flags = 0;
};

// Splits the stored "00-<32 hex>-<16 hex>-<2 hex>" (written by the service itself, so only
// its length is checked) into the row's trace id, parent span and flags.
void split_traceparent(std::string_view tp, Row& row) {
  if (tp.size() != 55) return;
  row.event.trace_id = std::string(tp.substr(3, 32));
  row.parent_span_id = std::string(tp.substr(36, 16));
  row.trace_flags = static_cast<std::uint32_t>(std::strtoul(std::string(tp.substr(53, 2)).c_str(),
                                                            nullptr, 16));
}

}  // namespace

struct OutboxRelay::Impl {
  Impl(OutboxRelayOptions o, telemetry::Logger& l, telemetry::Metrics* m)
      : opts(std::move(o)), log(l) {
    if (m != nullptr) register_metrics(m->registry());
  }

  OutboxRelayOptions opts;
  telemetry::Logger& log;
  std::thread thread;
  int stop_fd = -1;  // eventfd: written once by stop(), never drained
  std::atomic<bool> stopping{false};
  std::atomic<Clock::rep> stop_deadline{Clock::time_point::max().time_since_epoch().count()};

  // Owned by the relay thread only.
  PGconn* pg = nullptr;
  bool leader = false;
  std::unique_ptr<Connection> redis;
  Clock::time_point next_stats{};
  bool redis_outage_logged = false;
  Clock::time_point redis_down_since{};

  // Metrics (prometheus-cpp counters and gauges are thread-safe).
  prometheus::Counter* published_domain = nullptr;
  prometheus::Counter* published_lifecycle = nullptr;
  prometheus::Counter* publish_failures = nullptr;
  prometheus::Gauge* backlog_events = nullptr;
  prometheus::Gauge* oldest_age = nullptr;
  prometheus::Gauge* leader_gauge = nullptr;
  prometheus::Histogram* publish_delay = nullptr;

  void register_metrics(prometheus::Registry& registry);
  void record_publish_spans(const std::vector<Row>& rows, std::size_t acked,
                            std::uint64_t sent_unix) const;
  void run() noexcept;
  void loop();
  void final_drain();

  // --- waiting -----------------------------------------------------------------------------
  Clock::time_point stop_at() const {
    return Clock::time_point(Clock::duration(stop_deadline.load()));
  }
  enum class Wait { ready, timeout, stopped };
  Wait wait(int fd, short events, Clock::time_point until, bool stop_interrupts);
  bool sleep(std::chrono::nanoseconds d) {  // false when asked to stop
    return wait(-1, 0, Clock::now() + d, true) != Wait::stopped;
  }

  // --- PostgreSQL --------------------------------------------------------------------------
  void pg_connect();
  void pg_close() noexcept;
  std::vector<PgResultPtr> pg_exec(std::string_view sql,
                                   const std::vector<std::string>& params = {});

  // --- relay -------------------------------------------------------------------------------
  bool try_become_leader();
  void redis_connect();
  std::size_t relay_batch();
  void refresh_stats();
};

void OutboxRelay::Impl::register_metrics(prometheus::Registry& registry) {
  auto& published = prometheus::BuildCounter()
                        .Name("outbox_events_published_total")
                        .Help("Outbox events acknowledged by Redis (XADD), by stream.")
                        .Register(registry);
  published_domain = &published.Add({{"stream", "domain"}});
  published_lifecycle = &published.Add({{"stream", "lifecycle"}});
  publish_failures = &prometheus::BuildCounter()
                          .Name("outbox_publish_failures_total")
                          .Help(
                              "Failed attempts to publish outbox events (Redis unreachable, "
                              "I/O error or error reply); the events are retried.")
                          .Register(registry)
                          .Add({});
  backlog_events = &prometheus::BuildGauge()
                        .Name("outbox_backlog_events")
                        .Help("Unpublished rows in the outbox, as seen by the relay leader.")
                        .Register(registry)
                        .Add({});
  oldest_age = &prometheus::BuildGauge()
                    .Name("outbox_oldest_event_age_seconds")
                    .Help(
                        "Age of the oldest unpublished outbox event (0 when none), as seen "
                        "by the relay leader.")
                    .Register(registry)
                    .Add({});
  leader_gauge = &prometheus::BuildGauge()
                      .Name("outbox_relay_leader")
                      .Help("1 while this instance holds the relay lock and publishes.")
                      .Register(registry)
                      .Add({});
  publish_delay =
      &prometheus::BuildHistogram()
           .Name("outbox_event_publish_delay_seconds")
           .Help("From an event's occurred_at to Redis acknowledging its XADD.")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5, 10, 30, 60, 300});
}

// ---------------------------------------------------------------------------------------------
// Waiting: every blocking point of the thread goes through here (hiredis aside, which its
// operation timeout bounds), so stop() is honoured within its deadline.

OutboxRelay::Impl::Wait OutboxRelay::Impl::wait(int fd, short events, Clock::time_point until,
                                                bool stop_interrupts) {
  while (true) {
    const bool is_stopping = stopping.load();
    if (is_stopping && stop_interrupts) return Wait::stopped;
    auto limit = is_stopping ? std::min(until, stop_at()) : until;
    auto now = Clock::now();
    if (now >= limit) return is_stopping && stop_at() <= until ? Wait::stopped : Wait::timeout;
    pollfd fds[2];
    nfds_t n = 0;
    if (fd >= 0) fds[n++] = pollfd{fd, events, 0};
    // Once stopping, the (still readable) stop fd would spin the loop: the deadline rules.
    const bool watch_stop = !is_stopping;
    if (watch_stop) fds[n++] = pollfd{stop_fd, POLLIN, 0};
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(limit - now).count();
    int rc = ::poll(fds, n, static_cast<int>(std::min<long long>(ms, 60'000)));
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (rc == 0) continue;  // re-evaluates the limits
    if (fd >= 0 && fds[0].revents != 0) return Wait::ready;
    // Otherwise the stop fd fired: loop, now in stopping mode.
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one session, non-blocking libpq, every wait bounded by the statement timeout.

void OutboxRelay::Impl::pg_connect() {
  // The DSN is expanded in place of dbname; the later application_name overrides its own, so
  // the relay's session is easy to find in pg_stat_activity and pg_locks.
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {opts.postgres_dsn.c_str(), "userservice-outbox-relay", nullptr};
  PGconn* conn = PQconnectStartParams(keys, values, 1);
  if (conn == nullptr) throw PgFailure("PQconnectStartParams: out of memory");
  const auto deadline =
      Clock::now() + std::max<std::chrono::nanoseconds>(opts.statement_timeout, 5s);
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    Wait w = wait(PQsocket(conn), events, deadline, true);
    if (w != Wait::ready) {
      PQfinish(conn);
      throw PgFailure(w == Wait::stopped ? "stopping" : "connect timed out");
    }
    st = PQconnectPoll(conn);
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    throw PgFailure("connect: " + why);
  }
  if (PQsetnonblocking(conn, 1) != 0) {
    PQfinish(conn);
    throw PgFailure("PQsetnonblocking failed");
  }
  pg = conn;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(opts.statement_timeout).count();
  pg_exec("SET statement_timeout = " + std::to_string(ms));
}

void OutboxRelay::Impl::pg_close() noexcept {
  if (pg != nullptr) PQfinish(pg);  // also releases the session's leader lock
  pg = nullptr;
  if (leader) {
    leader = false;
    if (leader_gauge) leader_gauge->Set(0);
  }
}

std::vector<PgResultPtr> OutboxRelay::Impl::pg_exec(std::string_view sql,
                                                    const std::vector<std::string>& params) {
  if (pg == nullptr) throw PgFailure("not connected");
  const std::string text(sql);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  if (PQsendQueryParams(pg, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) != 1) {
    throw PgFailure("send: " + trimmed(PQerrorMessage(pg)));
  }
  const auto deadline = Clock::now() + opts.statement_timeout;
  // Statements run to completion even while stopping (the final drain needs them), bounded by
  // the statement timeout and the stop deadline.
  while (true) {
    int f = PQflush(pg);
    if (f < 0) throw PgFailure("send: " + trimmed(PQerrorMessage(pg)));
    if (f == 0) break;
    if (wait(PQsocket(pg), POLLOUT | POLLIN, deadline, false) != Wait::ready) {
      throw PgFailure("statement timed out");
    }
    if (PQconsumeInput(pg) != 1) throw PgFailure("receive: " + trimmed(PQerrorMessage(pg)));
  }
  std::vector<PgResultPtr> results;
  while (true) {
    // PQconsumeInput may have buffered everything already: only wait while libpq is busy,
    // never on a socket with nothing more to come.
    while (PQisBusy(pg)) {
      if (wait(PQsocket(pg), POLLIN, deadline, false) != Wait::ready) {
        throw PgFailure("statement timed out");
      }
      if (PQconsumeInput(pg) != 1) throw PgFailure("receive: " + trimmed(PQerrorMessage(pg)));
    }
    PgResultPtr r(PQgetResult(pg));
    if (!r) break;
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string why = trimmed(PQresultErrorMessage(r.get()));
      // Read the remaining results so the error text is not lost to a later call.
      while (PgResultPtr rest{PQgetResult(pg)}) {
      }
      throw PgFailure(why.empty() ? "statement failed" : why);
    }
    results.push_back(std::move(r));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Relaying

bool OutboxRelay::Impl::try_become_leader() {
  auto r = pg_exec("SELECT pg_try_advisory_lock(" + std::string(kLeaderLockKey) + ")");
  if (r.empty() || PQntuples(r[0].get()) != 1 ||
      std::strcmp(PQgetvalue(r[0].get(), 0, 0), "t") != 0) {
    return false;
  }
  leader = true;
  if (leader_gauge) leader_gauge->Set(1);
  log.info("outbox relay is the leader", {{"pid", static_cast<std::int64_t>(::getpid())}});
  return true;
}

void OutboxRelay::Impl::redis_connect() {
  redis.reset();
  redis = Connection::open(opts.redis);
  if (redis_outage_logged) {
    auto down = std::chrono::duration<double>(Clock::now() - redis_down_since).count();
    log.info("outbox relay reconnected to redis",
             {{"addr", opts.redis.addr}, {"down_seconds", down}});
  }
  redis_outage_logged = false;
}

std::size_t OutboxRelay::Impl::relay_batch() {
  auto results = pg_exec(kSelectBatch, {std::to_string(opts.batch_size)});
  PGresult* res = results.at(0).get();
  const int n = PQntuples(res);
  if (n == 0) return 0;

  std::vector<Row> rows(static_cast<std::size_t>(n));
  std::vector<std::vector<std::string_view>> commands;
  commands.reserve(rows.size());
  for (int i = 0; i < n; ++i) {
    Row& row = rows[static_cast<std::size_t>(i)];
    row.seq = to_int64(PQgetvalue(res, i, 0));
    row.event.event_id = PQgetvalue(res, i, 1);
    row.domain = std::strcmp(PQgetvalue(res, i, 2), "domain") == 0;  // else 'lifecycle' (CHECK)
    row.event.event_type = PQgetvalue(res, i, 3);
    row.event.user_id = PQgetvalue(res, i, 4);
    row.event.occurred_at = PQgetvalue(res, i, 5);
    row.event.payload = PQgetvalue(res, i, 6);
    split_traceparent(PQgetvalue(res, i, 7), row);
    row.occurred_epoch_us = to_int64(PQgetvalue(res, i, 8));
  }
  results.clear();
  for (const Row& row : rows) {
    commands.push_back((row.domain ? opts.domain : opts.lifecycle).xadd_command(row.event));
  }

  // One connection, one pipeline, in seq order: Redis executes the XADDs in exactly this
  // order, so per-user order holds within and across the two streams.
  std::vector<Reply> replies;
  std::string failure;
  const std::uint64_t sent_unix = opts.tracer ? telemetry::unix_nanos_now() : 0;
  try {
    redis->pipeline(commands, replies);
  } catch (const RedisError& e) {
    failure = e.what();
  }
  std::size_t acked = 0;
  while (acked < replies.size() && replies[acked].type != Reply::Type::error) ++acked;
  if (failure.empty() && acked < replies.size()) {
    const Row& bad = rows[acked];
    failure = "XADD " + std::string(bad.domain ? opts.domain.stream() : opts.lifecycle.stream()) +
              " refused event " + bad.event.event_id + ": " + replies[acked].str;
  }

  if (acked > 0) {
    // Only what Redis acknowledged; the rest (an error reply, or replies lost with the
    // connection) stays and is retried from the first unacknowledged seq, never skipped.
    std::string seqs = "{";
    std::int64_t domain_count = 0;
    for (std::size_t i = 0; i < acked; ++i) {
      if (i > 0) seqs += ',';
      seqs += std::to_string(rows[i].seq);
      if (rows[i].domain) ++domain_count;
      if (publish_delay) publish_delay->Observe(seconds_since_epoch_us(rows[i].occurred_epoch_us));
    }
    seqs += '}';
    record_publish_spans(rows, acked, sent_unix);
    if (published_domain) {
      published_domain->Increment(static_cast<double>(domain_count));
      published_lifecycle->Increment(static_cast<double>(acked) - domain_count);
    }
    // A crash (or a PostgreSQL failure) before this DELETE republishes these rows later:
    // that is the at-least-once side of the guarantee.
    pg_exec(kDeletePublished, {seqs});
  }
  if (!failure.empty()) throw RedisError(failure);
  return static_cast<std::size_t>(n);
}

// One producer span per published event, in the trace of the request that wrote it (a child
// of its server span); all share the pipeline's round trip.
void OutboxRelay::Impl::record_publish_spans(const std::vector<Row>& rows, std::size_t acked,
                                             std::uint64_t sent_unix) const {
  const telemetry::Tracer* tracer = opts.tracer;
  if (tracer == nullptr || !tracer->enabled()) return;
  const std::uint64_t done_unix = telemetry::unix_nanos_now();
  for (std::size_t i = 0; i < acked; ++i) {
    const Row& row = rows[i];
    if (row.event.trace_id.empty() || (row.trace_flags & 1u) == 0) continue;
    const std::string_view stream = row.domain ? opts.domain.stream() : opts.lifecycle.stream();
    telemetry::SpanData span;
    span.trace_id = row.event.trace_id;
    span.span_id = telemetry::new_span_id();
    span.parent_span_id = row.parent_span_id;
    span.flags = row.trace_flags;
    span.name = "publish " + std::string(stream);
    span.kind = telemetry::SpanKind::producer;
    span.start_unix_nano = sent_unix;
    span.end_unix_nano = done_unix;
    span.attributes.push_back({"messaging.system", std::string("redis")});
    span.attributes.push_back({"messaging.operation.type", std::string("send")});
    span.attributes.push_back({"messaging.destination.name", std::string(stream)});
    span.attributes.push_back({"messaging.message.id", row.event.event_id});
    span.attributes.push_back({"userservice.event_type", row.event.event_type});
    span.attributes.push_back(
        {"messaging.batch.message_count", static_cast<std::int64_t>(rows.size())});
    tracer->end(std::move(span));
  }
}

// At most once per kStatsInterval.
void OutboxRelay::Impl::refresh_stats() {
  if (!backlog_events) return;
  auto now = Clock::now();
  if (now < next_stats) return;
  next_stats = now + kStatsInterval;
  auto r = pg_exec(kBacklogStats);
  PGresult* res = r.at(0).get();
  backlog_events->Set(static_cast<double>(to_int64(PQgetvalue(res, 0, 0))));
  oldest_age->Set(std::max(0.0, std::strtod(PQgetvalue(res, 0, 1), nullptr)));
}

void OutboxRelay::Impl::loop() {
  Backoff pg_backoff, redis_backoff;
  bool pg_failure_logged = false;
  while (!stopping.load()) {
    try {
      if (pg == nullptr) {
        pg_connect();
        if (pg_failure_logged) log.info("outbox relay reconnected to postgres");
        pg_failure_logged = false;
        pg_backoff.reset();
      }
      if (!leader && !try_become_leader()) {
        // Another instance relays. Its session lock goes away with its connection, so a
        // dead leader is replaced within leader_retry.
        sleep(opts.leader_retry);
        continue;
      }
      if (!redis) redis_connect();
      const std::size_t n = relay_batch();
      redis_backoff.reset();
      if (n == 0 && backlog_events) {
        backlog_events->Set(0);  // the batch just saw an empty outbox
        oldest_age->Set(0);
      } else {
        refresh_stats();
      }
      if (n == static_cast<std::size_t>(opts.batch_size)) continue;  // more backlog
      // Caught up: look again after the poll interval (see the header for why no NOTIFY).
      sleep(opts.poll_interval);
    } catch (const RedisError& e) {
      redis.reset();
      if (publish_failures) publish_failures->Increment();
      // One warning per outage; the retries in between are debug noise.
      if (!redis_outage_logged) {
        redis_outage_logged = true;
        redis_down_since = Clock::now();
        log.warn("outbox relay cannot publish; events wait in the outbox",
                 {{"addr", opts.redis.addr}, {"error", e.what()}});
      } else {
        log.debug("outbox relay: redis still failing", {{"error", e.what()}});
      }
      try {
        if (pg != nullptr) refresh_stats();  // keep the backlog gauges moving
      } catch (const PgFailure&) {
        pg_close();
      }
      sleep(redis_backoff.next());
    } catch (const PgFailure& e) {
      const bool was_leader = leader;
      pg_close();
      if (stopping.load()) break;
      if (!pg_failure_logged) {
        pg_failure_logged = true;
        log.warn("outbox relay lost postgres", {{"error", e.what()}, {"was_leader", was_leader}});
      } else {
        log.debug("outbox relay: postgres still failing", {{"error", e.what()}});
      }
      sleep(pg_backoff.next());
    }
  }
}

// After stop(): the listeners have drained, so everything the last requests committed is in
// the outbox. Publish it if this instance is the leader and Redis answers, within the deadline.
void OutboxRelay::Impl::final_drain() {
  if (!leader || pg == nullptr) return;
  try {
    if (!redis) {
      // A connect may take up to its timeout: only try when that fits.
      auto connect_budget = std::max<std::chrono::nanoseconds>(opts.redis.operation_timeout, 1s);
      if (Clock::now() + connect_budget > stop_at()) return;
      redis_connect();
    }
    while (Clock::now() < stop_at()) {
      if (relay_batch() < static_cast<std::size_t>(opts.batch_size)) break;
    }
  } catch (const std::exception& e) {
    log.warn("outbox relay stopped with events left in the outbox", {{"error", e.what()}});
  }
}

void OutboxRelay::Impl::run() noexcept {
  // hiredis writes with write(2): a Redis that went away would raise SIGPIPE and kill the
  // process. Blocked in this thread, the write fails with EPIPE and the outage is handled.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  try {
    loop();
    final_drain();
  } catch (const std::exception& e) {
    // Only a broken poll() gets here; the outbox keeps the events for the next leader.
    log.error("outbox relay failed", {{"error", e.what()}});
  }
  redis.reset();
  pg_close();
}

// ---------------------------------------------------------------------------------------------

OutboxRelay::OutboxRelay(OutboxRelayOptions options, telemetry::Logger& log,
                         telemetry::Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), log, metrics)) {
  impl_->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->stop_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

OutboxRelay::~OutboxRelay() {
  stop(Clock::now());
  if (impl_->stop_fd >= 0) ::close(impl_->stop_fd);
}

void OutboxRelay::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void OutboxRelay::stop(Clock::time_point deadline) {
  if (!impl_->thread.joinable()) return;
  impl_->stop_deadline.store(deadline.time_since_epoch().count());
  impl_->stopping.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(impl_->stop_fd, &one, sizeof one);
  impl_->thread.join();
}

}  // namespace userservice::redis
