#include "adapters/outbox_relay/relay.h"

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
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "adapters/postgres/blocking_session.h"
#include "adapters/postgres/pool.h"
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/
#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace userservice::redis {

namespace {

using Clock = OutboxRelay::Clock;
using namespace std::chrono_literals;

// Session advisory lock of the relay leader ("usrvrlay"); one leader per database.
constexpr std::int64_t kLeaderLockKey = 8463233977810706809;
// Shared advisory lock held by every non-leader whose own Redis connection works ("usrvcand"):
// a leader that cannot publish hands over only when one of them is waiting.
constexpr std::int64_t kCandidateLockKey = 8463233977743286884;

// ---- Statements (the relay's own session; parameters as text) ---------------------------
// src/adapters/postgres/sql/outbox_relay/*.sql, as postgres::sql::kOutboxRelay<Name>
// ("sql_statements.h"); run unnamed on the relay's own postgres::BlockingSession.
namespace sql = postgres::sql;
using postgres::Result;

// ---- The publish script -------------------------------------------------------------------
// One EVALSHA per batch, so Redis runs the whole batch atomically and in seq order, and says
// for each row what happened. KEYS: the domain stream, the lifecycle stream, the fence.
// ARGV: the leader's epoch, the dedupe window (0: off), the two MAXLEN values, then per row:
// stream (1 domain, 2 lifecycle), field count n, n field/value strings (event_id first).
//  - Fencing: a leader whose epoch is below the fence lost the lead (it was frozen or cut
//    off, and another instance took over): nothing is written, the reply is FENCED.
//  - A stream stops at its first refused row (wrong type, ACL, OOM): its later rows in the
//    batch are skipped, never written before it; the other stream goes on.
//  - Dedupe (after an outcome the relay could not learn, and on taking the lead): a row whose
//    event_id is among the newest `window` entries of its stream is reported "dup" and not
//    added again.
// Reply: one status per row — "ok", "dup", "skip", or "err:<Redis error>".
constexpr std::string_view kPublishScript = R"lua(
local epoch = tonumber(ARGV[1])
local stored = redis.pcall('GET', KEYS[3])
local fence = 0
if type(stored) == 'string' then fence = tonumber(stored) or 0 end
if epoch < fence then return redis.error_reply('FENCED ' .. stored) end
if epoch > fence then redis.call('SET', KEYS[3], ARGV[1]) end
local window = tonumber(ARGV[2])
local maxlen = {ARGV[3], ARGV[4]}
local stopped = {false, false}
local seen = {}
local out = {}
local i = 5
while i <= #ARGV do
  local s = tonumber(ARGV[i])
  local n = tonumber(ARGV[i + 1])
  local first = i + 2
  i = first + n
  if stopped[s] then
    out[#out + 1] = 'skip'
  else
    local dup = false
    if window > 0 then
      if seen[s] == nil then
        seen[s] = {}
        local entries = redis.pcall('XREVRANGE', KEYS[s], '+', '-', 'COUNT', window)
        if type(entries) == 'table' and entries.err == nil then
          for _, e in ipairs(entries) do
            local f = e[2]
            for j = 1, #f - 1, 2 do
              if f[j] == 'event_id' then
                seen[s][f[j + 1]] = true
                break
              end
            end
          end
        end
      end
      dup = seen[s][ARGV[first + 1]] == true
    end
    if dup then
      out[#out + 1] = 'dup'
    else
      local r = redis.pcall('XADD', KEYS[s], 'MAXLEN', '~', maxlen[s], '*',
                            unpack(ARGV, first, first + n - 1))
      if type(r) == 'table' and r.err then
        stopped[s] = true
        out[#out + 1] = 'err:' .. r.err
      else
        out[#out + 1] = 'ok'
      end
    end
  end
end
return out
)lua";

constexpr auto kBackoffMin = 100ms;
constexpr auto kBackoffMax = 5s;
constexpr auto kStatsInterval = 1s;
constexpr auto kBlockedLogInterval = 60s;

// The session is gone or in an unknown state: reconnect (and lose the lead).
using PgFailure = postgres::SessionFailure;
// The server rejected one statement; the session is fine.
using PgStatementError = postgres::SqlError;
// This leader was fenced off: another instance leads now.
struct Fenced : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Doubling delay between attempts, reset by a success.
class Backoff {
 public:
  Backoff() = default;
  explicit Backoff(std::chrono::nanoseconds max) : max_(max) {}
  std::chrono::nanoseconds next() {
    auto d = current_;
    current_ = std::min<std::chrono::nanoseconds>(current_ * 2, max_);
    return d;
  }
  void reset() { current_ = kBackoffMin; }

 private:
  std::chrono::nanoseconds max_ = kBackoffMax;
  std::chrono::nanoseconds current_ = kBackoffMin;
};

double seconds_since_epoch_us(std::int64_t epoch_us) {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return static_cast<double>(now_us - epoch_us) / 1e6;
}

struct Row {
  std::int64_t seq = 0;
  int stream = 0;  // 0 domain, 1 lifecycle
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
  row.trace_flags =
      static_cast<std::uint32_t>(std::strtoul(std::string(tp.substr(53, 2)).c_str(), nullptr, 16));
}

constexpr std::array<std::string_view, 2> kStreamLabels = {"domain", "lifecycle"};

}  // namespace

struct OutboxRelay::Impl {
  Impl(OutboxRelayOptions o, telemetry::Logger& l, telemetry::Metrics* m)
      : opts(std::move(o)),
        log(l),
        redis_backoff(std::min<std::chrono::nanoseconds>(kBackoffMax, heartbeat_interval())) {
    fence_key = opts.domain.stream() + ":relay_fence";
    if (m != nullptr) register_metrics(m->registry());
  }

  OutboxRelayOptions opts;
  telemetry::Logger& log;
  std::string fence_key;
  std::thread thread;
  int stop_fd = -1;  // eventfd: written once by stop(), never drained
  std::atomic<bool> stopping{false};
  std::atomic<Clock::rep> stop_deadline{Clock::time_point::max().time_since_epoch().count()};

  // Owned by the relay thread only.
  postgres::BlockingSession pg;
  bool leader = false;
  bool candidate = false;
  std::int64_t epoch = 0;
  Clock::time_point lead_again_at{};  // after a hand-over, give the others a turn first
  std::unique_ptr<Connection> redis;
  std::string script_sha;  // per Redis connection
  Clock::time_point next_stats{};
  bool redis_outage_logged = false;
  Clock::time_point redis_down_since{};
  Backoff redis_backoff;
  int failed_cycles = 0;  // Redis failures in a row, as leader
  // The next batch first looks for its rows among the newest stream entries: after an
  // outcome the relay could not learn, and when it takes the lead.
  bool dedupe_next = true;
  // Too few replicas acknowledged: the next attempt waits until then (doubling delays, at
  // most a second: each attempt's WAIT already waits its timeout).
  Clock::time_point hold_until{};
  Backoff replica_backoff{1s};
  Clock::time_point last_shortfall_log{};

  // A stream whose first row Redis refuses is retried with its own backoff while the other
  // stream goes on.
  struct StreamState {
    bool blocked = false;
    std::int64_t seq = 0;
    std::string event_id;
    std::string error;
    Clock::time_point retry_at{};
    Backoff backoff;
    Clock::time_point last_log{};
  };
  std::array<StreamState, 2> streams;

  // Metrics (prometheus-cpp counters and gauges are thread-safe).
  std::array<prometheus::Counter*, 2> published{};
  prometheus::Counter* publish_failures = nullptr;
  prometheus::Counter* duplicates_skipped = nullptr;
  prometheus::Counter* step_downs = nullptr;
  prometheus::Counter* replica_shortfalls = nullptr;
  prometheus::Gauge* backlog_events = nullptr;
  prometheus::Gauge* oldest_age = nullptr;
  prometheus::Gauge* leader_gauge = nullptr;
  std::array<prometheus::Gauge*, 2> blocked_gauge{};
  std::array<prometheus::Gauge*, 2> blocked_seq_gauge{};
  prometheus::Histogram* publish_delay = nullptr;

  std::chrono::nanoseconds heartbeat_interval() const { return opts.leader_timeout / 4; }

  void register_metrics(prometheus::Registry& registry);
  void record_publish_spans(const std::vector<Row>& rows, const PublishReply& outcome,
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
  bool sleep(std::chrono::nanoseconds d);  // false when asked to stop

  // --- PostgreSQL --------------------------------------------------------------------------
  void pg_connect();
  void pg_close() noexcept;
  Result pg_exec(const postgres::Statement& statement, const postgres::Params& params = {});
  bool pg_bool(const postgres::Statement& statement, const postgres::Params& params);

  // --- leadership --------------------------------------------------------------------------
  bool redis_usable();
  bool try_become_leader();
  void set_candidate(bool want);
  void step_down(std::string_view why);
  void lose_lead(std::string_view why);

  // --- relay -------------------------------------------------------------------------------
  void redis_connect();
  Reply eval_publish(const std::vector<std::string_view>& args);
  std::size_t relay_batch();
  void note_refusal(int s, const Row& row, const std::string& error);
  void note_unblocked(int s);
  void reset_stream(int s);
  void refresh_stats();
};

void OutboxRelay::Impl::register_metrics(prometheus::Registry& registry) {
  auto& published_family = prometheus::BuildCounter()
                               .Name("outbox_events_published_total")
                               .Help("Outbox events acknowledged by Redis (XADD), by stream.")
                               .Register(registry);
  auto& blocked_family =
      prometheus::BuildGauge()
          .Name("outbox_stream_blocked")
          .Help("1 while Redis refuses the oldest unpublished event of the stream.")
          .Register(registry);
  auto& blocked_seq_family =
      prometheus::BuildGauge()
          .Name("outbox_stream_blocked_seq")
          .Help("Outbox seq of the event Redis refuses (0 when the stream is not blocked).")
          .Register(registry);
  for (int s = 0; s < 2; ++s) {
    const std::string label(kStreamLabels[static_cast<std::size_t>(s)]);
    published[static_cast<std::size_t>(s)] = &published_family.Add({{"stream", label}});
    blocked_gauge[static_cast<std::size_t>(s)] = &blocked_family.Add({{"stream", label}});
    blocked_seq_gauge[static_cast<std::size_t>(s)] = &blocked_seq_family.Add({{"stream", label}});
  }
  publish_failures = &prometheus::BuildCounter()
                          .Name("outbox_publish_failures_total")
                          .Help(
                              "Failed attempts to publish outbox events (Redis unreachable, "
                              "I/O error or error reply); the events are retried.")
                          .Register(registry)
                          .Add({});
  duplicates_skipped =
      &prometheus::BuildCounter()
           .Name("outbox_duplicates_skipped_total")
           .Help(
               "Outbox events found already in their stream (published before an outcome the "
               "relay could not learn) and not added again.")
           .Register(registry)
           .Add({});
  step_downs = &prometheus::BuildCounter()
                    .Name("outbox_relay_step_downs_total")
                    .Help(
                        "Times this instance gave up the relay lead: it could not publish, or "
                        "another leader fenced it off.")
                    .Register(registry)
                    .Add({});
  replica_shortfalls =
      &prometheus::BuildCounter()
           .Name("outbox_replica_ack_shortfalls_total")
           .Help(
               "Batches that fewer Redis replicas than USERSERVICE_REDIS_WAIT_REPLICAS "
               "acknowledged in time; their events stay in the outbox and are retried.")
           .Register(registry)
           .Add({});
  backlog_events = &prometheus::BuildGauge()
                        .Name("outbox_backlog_events")
                        .Help(
                            "Unpublished rows in the outbox, as seen by the relay leader (exact "
                            "up to 10000, an upper bound above).")
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

// Sleeps, but keeps the PostgreSQL session busy often enough that idle_session_timeout
// (the leader timeout) only ever ends a session whose process really stopped talking.
bool OutboxRelay::Impl::sleep(std::chrono::nanoseconds d) {
  const auto until = Clock::now() + d;
  while (true) {
    const auto now = Clock::now();
    if (now >= until) return true;
    if (pg.open() && now - pg.last_use() >= heartbeat_interval()) {
      pg_exec(sql::kOutboxRelayHeartbeat);
      continue;
    }
    const auto slice = pg.open() ? std::min(until, pg.last_use() + heartbeat_interval()) : until;
    if (wait(-1, 0, slice, true) == Wait::stopped) return false;
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one postgres::BlockingSession, every wait bounded by the statement timeout and
// cut short by stop() through wait().

void OutboxRelay::Impl::pg_connect() {
  const auto deadline =
      Clock::now() + std::max<std::chrono::nanoseconds>(opts.statement_timeout, 5s);
  // application_name: the relay's session is easy to find in pg_stat_activity and pg_locks.
  pg = postgres::BlockingSession::connect(
      opts.postgres_dsn, "userservice-outbox-relay", deadline,
      [this](int fd, short events, Clock::time_point until, bool interruptible) {
        switch (wait(fd, events, until, interruptible)) {
          case Wait::ready:
            return postgres::BlockingSession::WaitOutcome::ready;
          case Wait::timeout:
            return postgres::BlockingSession::WaitOutcome::timeout;
          case Wait::stopped:
            break;
        }
        return postgres::BlockingSession::WaitOutcome::stopped;
      });
  const auto ms = [](std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::ceil<std::chrono::milliseconds>(d).count());
  };
  // idle_session_timeout: a leader whose process freezes, or whose network path dies, stops
  // sending; the server then ends the session after leader_timeout and the lock is free.
  // Index scans only: the outbox is mostly dead rows between VACUUMs (the statement says why).
  pg_exec(sql::kOutboxRelaySessionSettings, {ms(opts.statement_timeout), ms(opts.leader_timeout)});
}

void OutboxRelay::Impl::pg_close() noexcept {
  pg.close();  // also releases the session's advisory locks
  candidate = false;
  if (leader) {
    leader = false;
    if (leader_gauge) leader_gauge->Set(0);
  }
}

// Statements run to completion even while stopping (the final drain needs them), bounded by
// the statement timeout and the stop deadline.
Result OutboxRelay::Impl::pg_exec(const postgres::Statement& statement,
                                  const postgres::Params& params) {
  return pg.execute(statement, params, Clock::now() + opts.statement_timeout);
}

bool OutboxRelay::Impl::pg_bool(const postgres::Statement& statement,
                                const postgres::Params& params) {
  const Result r = pg_exec(statement, params);
  return r.rows() == 1 && r.boolean(0, 0);
}

// ---------------------------------------------------------------------------------------------
// Leadership. One leader per database, by a session advisory lock; a frozen or cut-off
// leader loses it within leader_timeout (idle_session_timeout ends its session), and every
// leader gets a fresh epoch that Redis checks (the fence), so a leader that wakes up after
// losing the lead cannot publish a stale batch.

// Whether this instance could publish now: only such an instance stands for leadership.
bool OutboxRelay::Impl::redis_usable() {
  try {
    if (!redis) redis_connect();
    Reply pong = redis->command({"PING"});
    if (pong.type == Reply::Type::error) throw RedisError("PING: " + pong.str);
    return true;
  } catch (const RedisError& e) {
    redis.reset();
    log.debug("outbox relay: redis not usable, not standing for leader", {{"error", e.what()}});
    return false;
  }
}

void OutboxRelay::Impl::set_candidate(bool want) {
  if (want == candidate) return;
  const std::string key = std::to_string(kCandidateLockKey);
  if (want) {
    candidate = pg_bool(sql::kOutboxRelayTryCandidate, {key});
  } else {
    pg_exec(sql::kOutboxRelayUnlockCandidate, {key});
    candidate = false;
  }
}

bool OutboxRelay::Impl::try_become_leader() {
  if (!pg_bool(sql::kOutboxRelayTryLeader, {std::to_string(kLeaderLockKey)})) return false;
  leader = true;
  set_candidate(false);
  epoch = pg_exec(sql::kOutboxRelayNextEpoch).int64(0, 0);
  failed_cycles = 0;
  dedupe_next = true;  // the previous leader may have published rows it could not delete
  if (leader_gauge) leader_gauge->Set(1);
  log.info("outbox relay is the leader",
           {{"pid", static_cast<std::int64_t>(::getpid())}, {"epoch", epoch}});
  // Raise the fence at once (a script call without rows): from here on a previous leader
  // that wakes up with a batch in hand is refused. Holding the lock, this leader is the only
  // one: a fence above its epoch means the sequence went back (a restored or recreated
  // database, Redis kept), so the sequence moves past the fence and the call is repeated.
  for (int attempt = 0;; ++attempt) {
    const std::string epoch_text = std::to_string(epoch);
    const PublishReply fenced = read_publish_reply(
        eval_publish({epoch_text, "0", opts.domain.max_len(), opts.lifecycle.max_len()}), 0);
    if (fenced.kind == PublishReply::Kind::rows) break;
    if (fenced.kind != PublishReply::Kind::fenced || attempt > 0) {
      throw RedisError("publish script refused: " + fenced.text);
    }
    const std::string fence = std::to_string(fenced.fence);
    log.warn("outbox relay: the fence in redis is above the epoch sequence; moving it on",
             {{"fence", fence}, {"epoch", epoch}});
    pg_exec(sql::kOutboxRelayMoveEpoch, {fence});
    epoch = pg_exec(sql::kOutboxRelayNextEpoch).int64(0, 0);
  }
  return true;
}

// Hands the lead to another instance (one that reaches Redis is waiting for it).
void OutboxRelay::Impl::step_down(std::string_view why) {
  pg_exec(sql::kOutboxRelayUnlockLeader, {std::to_string(kLeaderLockKey)});
  lose_lead(why);
}

void OutboxRelay::Impl::lose_lead(std::string_view why) {
  leader = false;
  failed_cycles = 0;
  if (leader_gauge) leader_gauge->Set(0);
  if (step_downs) step_downs->Increment();
  for (int s = 0; s < 2; ++s) reset_stream(s);  // the next leader finds out for itself
  // Give the waiting instances a turn before standing again.
  lead_again_at = Clock::now() + 3 * opts.leader_retry;
  log.warn("outbox relay gave up the lead", {{"reason", why}});
}

// ---------------------------------------------------------------------------------------------
// Relaying

void OutboxRelay::Impl::redis_connect() {
  redis.reset();
  script_sha.clear();
  redis = Connection::open(opts.redis);
  Reply loaded = redis->command({"SCRIPT", "LOAD", kPublishScript});
  if (loaded.type != Reply::Type::string) {
    redis.reset();
    throw RedisError("SCRIPT LOAD refused: " + loaded.str);
  }
  script_sha = loaded.str;
  if (redis_outage_logged) {
    auto down = std::chrono::duration<double>(Clock::now() - redis_down_since).count();
    log.info("outbox relay reconnected to redis",
             {{"addr", opts.redis.addr}, {"down_seconds", down}});
  }
  redis_outage_logged = false;
}

// EVALSHA, loading the script again if Redis lost it (a restart, SCRIPT FLUSH).
Reply OutboxRelay::Impl::eval_publish(const std::vector<std::string_view>& args) {
  std::vector<std::string_view> argv;
  argv.reserve(args.size() + 7);
  argv.insert(argv.end(), {"EVALSHA", script_sha, "3", opts.domain.stream(),
                           opts.lifecycle.stream(), fence_key});
  argv.insert(argv.end(), args.begin(), args.end());
  Reply r = redis->command(argv);
  if (r.type == Reply::Type::error && r.str.starts_with("NOSCRIPT")) {
    Reply loaded = redis->command({"SCRIPT", "LOAD", kPublishScript});
    if (loaded.type != Reply::Type::string) throw RedisError("SCRIPT LOAD refused: " + loaded.str);
    script_sha = loaded.str;
    argv[1] = script_sha;
    r = redis->command(argv);
  }
  return r;
}

void OutboxRelay::Impl::note_refusal(int s, const Row& row, const std::string& error) {
  StreamState& st = streams[static_cast<std::size_t>(s)];
  const bool fresh = !st.blocked || st.seq != row.seq;
  st.blocked = true;
  st.seq = row.seq;
  st.event_id = row.event.event_id;
  st.error = error;
  st.retry_at = Clock::now() + st.backoff.next();
  if (blocked_gauge[static_cast<std::size_t>(s)]) {
    blocked_gauge[static_cast<std::size_t>(s)]->Set(1);
    blocked_seq_gauge[static_cast<std::size_t>(s)]->Set(static_cast<double>(row.seq));
  }
  // Once per refused row, then at most once a minute: an operator must see it, a log
  // pipeline must not drown in it.
  const auto now = Clock::now();
  if (fresh || now - st.last_log >= kBlockedLogInterval) {
    st.last_log = now;
    const std::string& stream = s == 0 ? opts.domain.stream() : opts.lifecycle.stream();
    log.error("outbox relay: redis refuses an event; its stream waits, the other goes on",
              {{"stream", stream},
               {"seq", row.seq},
               {"event_id", row.event.event_id},
               {"event_type", row.event.event_type},
               {"error", error}});
  }
}

void OutboxRelay::Impl::note_unblocked(int s) {
  StreamState& st = streams[static_cast<std::size_t>(s)];
  if (!st.blocked) return;
  log.info("outbox relay: stream publishes again",
           {{"stream", s == 0 ? opts.domain.stream() : opts.lifecycle.stream()}, {"seq", st.seq}});
  reset_stream(s);
}

void OutboxRelay::Impl::reset_stream(int s) {
  streams[static_cast<std::size_t>(s)] = StreamState{};
  if (blocked_gauge[static_cast<std::size_t>(s)]) {
    blocked_gauge[static_cast<std::size_t>(s)]->Set(0);
    blocked_seq_gauge[static_cast<std::size_t>(s)]->Set(0);
  }
}

std::size_t OutboxRelay::Impl::relay_batch() {
  const auto now = Clock::now();
  std::array<bool, 2> take{};
  for (int s = 0; s < 2; ++s) {
    const StreamState& st = streams[static_cast<std::size_t>(s)];
    take[static_cast<std::size_t>(s)] = !st.blocked || now >= st.retry_at;
  }
  if (!take[0] && !take[1]) return 0;
  Result res = pg_exec(
      sql::kOutboxRelaySelectHeads,
      {take[0] ? "true" : "false", take[1] ? "true" : "false", std::to_string(opts.batch_size)});
  const int n = res.rows();
  if (n == 0) {
    // Nothing left of a stream that was waiting: its refused row went away (deleted by hand).
    for (int s = 0; s < 2; ++s) {
      if (take[static_cast<std::size_t>(s)]) note_unblocked(s);
    }
    return 0;
  }

  std::vector<Row> rows(static_cast<std::size_t>(n));
  std::array<int, 2> per_stream{};
  std::array<std::int64_t, 2> last_seq{};
  for (int i = 0; i < n; ++i) {
    Row& row = rows[static_cast<std::size_t>(i)];
    row.seq = res.int64(i, 0);
    row.event.event_id = res.text(i, 1);
    row.stream = res.text(i, 2) == "domain" ? 0 : 1;  // CHECK constraint
    row.event.event_type = res.text(i, 3);
    row.event.user_id = res.text(i, 4);
    row.event.occurred_at = res.text(i, 5);
    row.event.payload = res.text(i, 6);
    split_traceparent(res.text(i, 7), row);
    row.occurred_epoch_us = res.int64(i, 8);
    ++per_stream[static_cast<std::size_t>(row.stream)];
    last_seq[static_cast<std::size_t>(row.stream)] = row.seq;
  }
  res = Result();
  // Publish a prefix of the global seq order only: when both streams take part and one
  // returned a full head, rows of the other beyond its last seq wait for the next batch, so
  // one user's events keep their order across the two streams.
  std::int64_t cut = INT64_MAX;
  if (take[0] && take[1]) {
    for (int s = 0; s < 2; ++s) {
      if (per_stream[static_cast<std::size_t>(s)] == opts.batch_size) {
        cut = std::min(cut, last_seq[static_cast<std::size_t>(s)]);
      }
    }
  }
  if (cut != INT64_MAX) {
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const Row& r) { return r.seq > cut; }),
               rows.end());
  }

  static constexpr std::array<std::string_view, 2> kIndex = {"1", "2"};
  std::vector<std::string> counts;  // field counts as text, kept alive for the argv
  counts.reserve(rows.size());
  std::vector<std::string_view> args;
  args.reserve(4 + rows.size() * 16);
  const std::string epoch_text = std::to_string(epoch);
  const std::string window = dedupe_next ? std::to_string(opts.batch_size) : "0";
  args.insert(args.end(), {epoch_text, window, opts.domain.max_len(), opts.lifecycle.max_len()});
  std::vector<std::string_view> fields;
  for (const Row& row : rows) {
    fields.clear();
    StreamPublisher::append_fields(row.event, fields);
    counts.push_back(std::to_string(fields.size()));
    args.push_back(kIndex[static_cast<std::size_t>(row.stream)]);
    args.push_back(counts.back());
    args.insert(args.end(), fields.begin(), fields.end());
  }

  const std::uint64_t sent_unix = opts.tracer ? telemetry::unix_nanos_now() : 0;
  Reply reply;
  try {
    reply = eval_publish(args);
  } catch (const RedisError&) {
    dedupe_next = true;  // the script may have run: look before adding again
    throw;
  }
  const PublishReply outcome = read_publish_reply(reply, rows.size());
  switch (outcome.kind) {
    case PublishReply::Kind::rows:
      break;
    case PublishReply::Kind::fenced:
      throw Fenced(outcome.text);
    case PublishReply::Kind::refused:
      dedupe_next = true;  // a script error may come after some entries were added
      throw RedisError("publish script refused: " + outcome.text);
    case PublishReply::Kind::malformed:
      dedupe_next = true;
      throw RedisError(outcome.text);
  }
  dedupe_next = false;

  std::vector<std::int64_t> done;  // published now or before: their rows leave the outbox
  std::array<std::int64_t, 2> ok_count{};
  std::array<bool, 2> refused{};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const PublishReply::Row status = outcome.rows[i].status;
    const Row& row = rows[i];
    const int s = row.stream;
    if (status == PublishReply::Row::ok || status == PublishReply::Row::dup) {
      done.push_back(row.seq);
      if (status == PublishReply::Row::ok) {
        ++ok_count[static_cast<std::size_t>(s)];
        if (publish_delay) publish_delay->Observe(seconds_since_epoch_us(row.occurred_epoch_us));
      } else if (duplicates_skipped) {
        duplicates_skipped->Increment();
      }
      if (!refused[static_cast<std::size_t>(s)]) note_unblocked(s);
    } else if (status == PublishReply::Row::refused) {
      refused[static_cast<std::size_t>(s)] = true;
      note_refusal(s, row, outcome.rows[i].error);
    }
  }
  if (done.empty()) return rows.size();

  if (opts.wait_replicas > 0) {
    // Durable hand-off: only what enough replicas hold leaves the outbox. On a shortfall the
    // rows stay; the next batch finds them in the streams (dedupe) and waits again.
    const std::string replicas = std::to_string(opts.wait_replicas);
    const std::string ms =
        std::to_string(std::chrono::ceil<std::chrono::milliseconds>(opts.wait_timeout).count());
    Reply acked =
        redis->command({"WAIT", replicas, ms}, opts.wait_timeout + opts.redis.operation_timeout);
    if (acked.type != Reply::Type::integer || acked.integer < opts.wait_replicas) {
      dedupe_next = true;
      if (replica_shortfalls) replica_shortfalls->Increment();
      const auto at = Clock::now();
      hold_until = at + replica_backoff.next();
      if (at - last_shortfall_log >= kBlockedLogInterval) {
        last_shortfall_log = at;
        log.warn("outbox relay: too few redis replicas acknowledged; events stay in the outbox",
                 {{"required", opts.wait_replicas},
                  {"acknowledged", static_cast<std::int64_t>(
                                       acked.type == Reply::Type::integer ? acked.integer : -1)}});
      }
      return rows.size();
    }
    replica_backoff.reset();
  }

  for (int s = 0; s < 2; ++s) {
    if (published[static_cast<std::size_t>(s)]) {
      published[static_cast<std::size_t>(s)]->Increment(
          static_cast<double>(ok_count[static_cast<std::size_t>(s)]));
    }
  }
  record_publish_spans(rows, outcome, sent_unix);
  // A crash (or a PostgreSQL failure) before this DELETE leaves published rows behind: the
  // next batch, of this leader or the next, finds them in the streams and does not add them
  // again (dedupe), so a duplicate needs a crash and more than a batch of newer entries.
  pg_exec(sql::kOutboxRelayDeletePublished, {postgres::bigint_array(done)});
  return rows.size();
}

// One producer span per published event, in the trace of the request that wrote it (a child
// of its server span); all share the script's round trip.
void OutboxRelay::Impl::record_publish_spans(const std::vector<Row>& rows,
                                             const PublishReply& outcome,
                                             std::uint64_t sent_unix) const {
  const telemetry::Tracer* tracer = opts.tracer;
  if (tracer == nullptr || !tracer->enabled()) return;
  const std::uint64_t done_unix = telemetry::unix_nanos_now();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    if (outcome.rows[i].status != PublishReply::Row::ok) continue;
    if (row.event.trace_id.empty() || (row.trace_flags & 1u) == 0) continue;
    const std::string_view stream =
        row.stream == 0 ? opts.domain.stream() : opts.lifecycle.stream();
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

// At most once per kStatsInterval. A rejected statement keeps the session (and the lead).
void OutboxRelay::Impl::refresh_stats() {
  if (!backlog_events) return;
  auto now = Clock::now();
  if (now < next_stats) return;
  next_stats = now + kStatsInterval;
  try {
    const Result r = pg_exec(sql::kOutboxRelayBacklogStats);
    const std::int64_t counted = r.int64(0, 0);
    const std::int64_t span = r.int64(0, 1);
    backlog_events->Set(static_cast<double>(counted < 10000 ? counted : std::max(counted, span)));
    oldest_age->Set(std::max(0.0, r.float64(0, 2)));
  } catch (const PgStatementError& e) {
    log.debug("outbox relay: backlog statistics failed", {{"error", e.what()}});
  }
}

void OutboxRelay::Impl::loop() {
  Backoff pg_backoff;
  bool pg_failure_logged = false;
  while (!stopping.load()) {
    try {
      if (!pg.open()) {
        pg_connect();
        if (pg_failure_logged) log.info("outbox relay reconnected to postgres");
        pg_failure_logged = false;
        pg_backoff.reset();
      }
      if (!leader) {
        // Only an instance that reaches Redis stands (and says so, as a candidate, so that a
        // leader that cannot publish knows it may hand over).
        const bool usable = Clock::now() >= lead_again_at && redis_usable();
        set_candidate(usable);
        if (!usable || !try_become_leader()) {
          sleep(opts.leader_retry);
          continue;
        }
      }
      if (!redis) redis_connect();
      const std::size_t n = relay_batch();
      redis_backoff.reset();
      failed_cycles = 0;
      if (n == 0 && backlog_events && !streams[0].blocked && !streams[1].blocked) {
        backlog_events->Set(0);  // the batch just saw an empty outbox
        oldest_age->Set(0);
      } else {
        refresh_stats();
      }
      const auto now = Clock::now();
      if (hold_until > now) {
        sleep(hold_until - now);  // waiting for replicas to catch up
        continue;
      }
      if (n >= static_cast<std::size_t>(opts.batch_size)) continue;  // more backlog
      // Caught up: look again after the poll interval (see the header for why no NOTIFY).
      sleep(opts.poll_interval);
    } catch (const Fenced& e) {
      // Another instance took the lead while this one was frozen or cut off.
      redis.reset();
      try {
        step_down(e.what());
      } catch (const PgFailure&) {
        pg_close();
      }
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
        if (pg.open()) {
          refresh_stats();  // keep the backlog gauges moving
          // A leader that cannot publish hands over when another instance that can is
          // waiting; alone, it keeps the lead and retries (nobody could do better).
          if (leader && ++failed_cycles >= opts.step_down_after) {
            const auto hi = static_cast<std::uint64_t>(kCandidateLockKey) >> 32;
            const auto lo = static_cast<std::uint64_t>(kCandidateLockKey) & 0xffffffffu;
            if (pg_bool(sql::kOutboxRelayCandidateWaiting,
                        {std::to_string(hi), std::to_string(lo)})) {
              step_down("redis failed " + std::to_string(failed_cycles) +
                        " times in a row and another instance reaches it");
              continue;
            }
          }
        }
      } catch (const PgFailure&) {
        pg_close();
      } catch (const PgStatementError&) {
      }
      try {
        sleep(redis_backoff.next());
      } catch (const PgFailure&) {
        pg_close();
      }
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
    } catch (const PgStatementError& e) {
      // A statement the server rejected (e.g. its statement timeout): the session is fine,
      // but this batch's state is unknown; start over on a fresh session.
      log.warn("outbox relay statement failed", {{"error", e.what()}});
      pg_close();
      sleep(pg_backoff.next());
    }
  }
}

// After stop(): the listeners have drained, so everything the last requests committed is in
// the outbox. Publish it if this instance is the leader and Redis answers, within the deadline.
void OutboxRelay::Impl::final_drain() {
  if (!leader || !pg.open()) return;
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
