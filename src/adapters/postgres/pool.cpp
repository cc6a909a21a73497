#include "adapters/postgres/pool.h"

#include <algorithm>
#include <deque>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "adapters/postgres/connection.h"
#include "common/scope_exit.h"
#include "domain/error.h"
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/
#include "telemetry/log.h"
#include "telemetry/metrics.h"

namespace userservice::postgres {

namespace asio = boost::asio;
using domain::Error;
using domain::ErrorCode;

namespace detail {

// A caller queued for a connection. release() wakes it by cancelling its timer after
// handing over a connection or a slot to open one; the deadline is the timer's expiry.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::shared_ptr<Connection> conn;  // handed over by release()
  bool slot = false;                 // may open a connection (already counted in `open`)
  bool closed = false;               // the pool was closed
  bool queued = true;

  // A Pool::run caller carries its statements, so that a released connection can run several
  // waiting callers' statements in one round trip (PoolState::run_batch) instead of one
  // caller per round trip. Owned here, not by the caller's frame: a caller that gives up
  // leaves a batch in flight behind.
  bool job = false;
  std::vector<Query> queries;
  Clock::time_point deadline{};
  std::optional<RequestContext> ctx;  // copy, for spans and logs

  // The read this caller could share with others of its kind: its one statement, when that
  // has a set form and its one parameter is not NULL; else null.
  const Statement* coalescible() const noexcept {
    if (!job || queries.size() != 1) return nullptr;
    const Query& q = queries.front();
    if (q.statement == nullptr || q.statement->coalesced == nullptr) return nullptr;
    if (q.params.size() != 1 || !q.params.values().front()) return nullptr;
    return q.statement;
  }
  bool in_batch = false;
  Clock::time_point batched_at{};  // end of its wait for a connection
  bool done = false;               // results or error are set
  std::vector<Result> results;
  std::exception_ptr error;
};

// Shared by the Pool, its Leases and in-flight coroutines, so none of them dangles when
// another goes away first.
struct PoolState : std::enable_shared_from_this<PoolState> {
  PoolState(asio::any_io_executor e, PoolOptions o, telemetry::Logger& l, telemetry::Metrics* m)
      : ex(std::move(e)),
        opts(std::move(o)),
        params(make_connect_params(opts.dsn, opts.operation_timeout, opts.transaction_pooling)),
        log(l),
        metrics(m) {
    opts.max_open = std::max(opts.max_open, 1);
    opts.max_idle = std::clamp(opts.max_idle, 0, opts.max_open);
    opts.max_batch = opts.transaction_pooling ? 1 : std::max(opts.max_batch, 1);
  }

  OpLimit limit_for(Clock::time_point deadline) const {
    if (opts.operation_timeout <= std::chrono::nanoseconds::zero()) return {deadline, true};
    const auto op_end =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(opts.operation_timeout);
    if (deadline <= op_end) return {deadline, true};
    return {op_end, false};
  }

  // Connecting is bounded by the DSN's connect_timeout when it has one, else like any other
  // operation.
  OpLimit connect_limit(Clock::time_point deadline) const {
    if (params.connect_timeout <= std::chrono::nanoseconds::zero()) return limit_for(deadline);
    const auto end =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(params.connect_timeout);
    if (deadline <= end) return {deadline, true};
    return {end, false};
  }

  // An idle connection and when it was last released.
  struct Idle {
    std::shared_ptr<Connection> conn;
    Clock::time_point since;
  };

  bool expired(const Connection& c, Clock::time_point now) const {
    return opts.max_lifetime > std::chrono::nanoseconds::zero() &&
           now - c.created_at() >= opts.max_lifetime;
  }
  bool idled_out(const Idle& i, Clock::time_point now) const {
    return opts.max_idle_time > std::chrono::nanoseconds::zero() &&
           now - i.since >= opts.max_idle_time;
  }

  // A Lease, or nullopt when `job` (a queued Pool::run caller) was run in a batch by
  // another connection's release: job->done is then set.
  asio::awaitable<std::optional<Lease>> acquire(Clock::time_point deadline,
                                                std::shared_ptr<Waiter> job);
  // Whether acquire() would queue right now: callers behind others, or no idle connection
  // and no room to open one.
  bool must_queue() const { return !waiters.empty() || (idle.empty() && open >= opts.max_open); }
  void start_batch(std::shared_ptr<Connection> c) noexcept;
  void fold_in_same_kind(std::vector<std::shared_ptr<Waiter>>& batch, Clock::time_point now,
                         int per_kind);
  static asio::awaitable<void> run_batch(std::shared_ptr<PoolState> self,
                                         std::shared_ptr<Connection> c,
                                         std::vector<std::shared_ptr<Waiter>> batch);
  std::shared_ptr<Connection> take_idle();
  void release(std::shared_ptr<Connection> c) noexcept;
  void drop(const std::shared_ptr<Connection>& c, std::string_view reason) noexcept;
  void pass_slot() noexcept;
  void abandon(Waiter& w) noexcept;
  void close() noexcept;
  void arm_trim() noexcept;
  void trim() noexcept;

  asio::any_io_executor ex;
  PoolOptions opts;
  ConnectParams params;
  telemetry::Logger& log;
  telemetry::Metrics* metrics;
  const telemetry::Tracer* tracer = nullptr;

  std::deque<Idle> idle;                        // back = most recently used
  std::deque<std::shared_ptr<Waiter>> waiters;  // FIFO
  asio::steady_timer trim_timer{ex};
  bool trim_armed = false;
  int open = 0;  // idle + handed out + being opened
  bool closed = false;
  std::uint64_t wait_count = 0;
  double wait_seconds_total = 0;
  std::uint64_t closed_max_idle = 0;
  std::uint64_t closed_max_idle_time = 0;
  std::uint64_t closed_max_lifetime = 0;
  std::uint64_t batches = 0;
  std::uint64_t batched_calls = 0;
  std::uint64_t coalesced = 0;
  std::uint64_t coalesced_calls = 0;
  // Statements held prepared across this pool's open connections (Connection keeps it).
  std::shared_ptr<std::int64_t> prepared_total = std::make_shared<std::int64_t>(0);
};

namespace {

Error pool_closed(const PoolOptions& opts) {
  return Error(ErrorCode::service_unavailable, "database unavailable",
               "postgres pool " + opts.name + " is closed");
}

}  // namespace

asio::awaitable<std::optional<Lease>> PoolState::acquire(Clock::time_point deadline,
                                                         std::shared_ptr<Waiter> job) {
  auto self = shared_from_this();
  if (closed) throw pool_closed(opts);
  // A reserved slot (counted in `open`) is returned on every exit until a connection holds
  // it. The guard exists before the first co_await: an awaitable started after cancellation
  // throws before its body runs, so a guard inside a callee would never be constructed.
  bool slot = false;
  ScopeExit give_back([&] {
    if (slot) {
      --open;
      pass_slot();
    }
  });
  // Newcomers go behind queued waiters (FIFO); with waiters queued nothing is idle anyway.
  if (waiters.empty()) {
    if (auto c = take_idle()) co_return std::optional<Lease>(Lease(self, std::move(c)));
    if (open < opts.max_open) {
      ++open;
      slot = true;
    }
  }

  if (!slot) {
    auto w = job ? std::move(job) : std::make_shared<Waiter>(ex);
    waiters.push_back(w);
    ++wait_count;
    const auto started = Clock::now();
    // Runs on every exit, including cancellation and frame destruction: leave the queue and
    // pass on whatever was handed over but not used.
    ScopeExit leave([&] { abandon(*w); });
    w->timer.expires_at(deadline);
    auto [ec] = co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const auto now = Clock::now();
    // A batched caller stopped waiting for a connection when its batch was sent.
    wait_seconds_total +=
        std::chrono::duration<double>((w->in_batch ? w->batched_at : now) - started).count();
    if (w->done) co_return std::nullopt;
    if (w->conn && now < deadline) {
      co_return std::optional<Lease>(Lease(self, std::exchange(w->conn, nullptr)));
    }
    if (w->in_batch) {
      // Sent in a batch that has not answered yet: the statements may still run.
      if (ec == asio::error::operation_aborted && now < deadline) {
        throw boost::system::system_error(ec, "postgres batch wait cancelled");
      }
      throw Error(ErrorCode::deadline_exceeded, "request deadline exceeded");
    }
    if (w->slot && now < deadline) {
      w->slot = false;
      slot = true;
    } else if (w->closed || closed) {
      throw pool_closed(opts);
    } else if (ec == asio::error::operation_aborted && now < deadline) {
      throw boost::system::system_error(ec, "postgres pool wait cancelled");
    } else {
      throw Error(ErrorCode::service_unavailable, "database pool exhausted",
                  "no free connection in postgres pool " + opts.name + " before the deadline (" +
                      std::to_string(opts.max_open) + " in use)");
    }
  }

  auto c = co_await Connection::open(ex, params, connect_limit(deadline), log, opts.name,
                                     prepared_total);
  slot = false;  // now held by the connection
  co_return std::optional<Lease>(Lease(self, std::move(c)));
}

std::shared_ptr<Connection> PoolState::take_idle() {
  const auto now = Clock::now();
  while (!idle.empty()) {
    const bool idled = idled_out(idle.back(), now);
    auto c = std::move(idle.back().conn);
    idle.pop_back();
    if (idled) {
      ++closed_max_idle_time;
      drop(c, "max idle time");
    } else if (expired(*c, now)) {
      ++closed_max_lifetime;
      drop(c, "max lifetime");
    } else if (!c->alive()) {
      drop(c, "closed by server");
    } else {
      return c;
    }
  }
  return nullptr;
}

void PoolState::release(std::shared_ptr<Connection> c) noexcept {
  if (closed) return drop(c, "pool closed");
  if (!c->reusable()) return drop(c, c->closed() ? "broken" : "not reusable");
  if (expired(*c, Clock::now())) {
    ++closed_max_lifetime;
    return drop(c, "max lifetime");
  }
  if (waiters.size() >= 2 && waiters[0]->job && waiters[1]->job &&
      (opts.max_batch > 1 || (opts.coalesce_reads && waiters[0]->coalescible()))) {
    return start_batch(std::move(c));
  }
  if (!waiters.empty()) {
    auto w = std::move(waiters.front());
    waiters.pop_front();
    w->queued = false;
    w->conn = std::move(c);
    w->timer.cancel();
    return;
  }
  idle.push_back(Idle{std::move(c), Clock::now()});
  arm_trim();
}

// Closing surplus connections on release (database/sql's rule) churns under bursty load:
// every burst above max_idle reconnects, forks a backend and re-prepares each statement,
// which measured as 3.7x the PostgreSQL CPU per request and p99 stalls of ~800 ms. A timer
// closes the surplus only after it has stayed idle for the grace period.
void PoolState::arm_trim() noexcept {
  if (trim_armed || closed || idle.empty()) return;
  // The front of `idle` has idled longest: it is the first to pass either bound.
  std::optional<Clock::time_point> at;
  if (static_cast<int>(idle.size()) > opts.max_idle) {
    const auto grace = std::chrono::duration_cast<Clock::duration>(opts.idle_surplus_grace);
    at = idle.front().since + std::max(grace, Clock::duration::zero());
  }
  if (opts.max_idle_time > std::chrono::nanoseconds::zero()) {
    const auto limit =
        idle.front().since + std::chrono::duration_cast<Clock::duration>(opts.max_idle_time);
    at = at ? std::min(*at, limit) : limit;
  }
  if (!at) return;
  trim_armed = true;
  trim_timer.expires_at(*at);
  trim_timer.async_wait([weak = weak_from_this()](const boost::system::error_code&) {
    if (auto self = weak.lock()) {
      self->trim_armed = false;
      self->trim();
    }
  });
}

// Closes what idled past USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME (any number, as Go's
// SetConnMaxIdleTime does), then the surplus above max_idle once past its grace.
void PoolState::trim() noexcept {
  if (closed) return;
  const auto grace = std::chrono::duration_cast<Clock::duration>(opts.idle_surplus_grace);
  const auto now = Clock::now();
  while (!idle.empty() && idled_out(idle.front(), now)) {
    auto c = std::move(idle.front().conn);
    idle.pop_front();
    ++closed_max_idle_time;
    drop(c, "max idle time");
  }
  while (static_cast<int>(idle.size()) > opts.max_idle && now - idle.front().since >= grace) {
    auto c = std::move(idle.front().conn);
    idle.pop_front();
    ++closed_max_idle;
    drop(c, "max idle");
  }
  arm_trim();
}

// Under saturation every caller waits for a connection anyway; a connection that comes back
// takes its share of the queued Pool::run callers at the front (queue / max_open, at least
// 2, at most max_batch) in one round trip. PostgreSQL then reads, plans and answers several
// requests per wake-up of one backend, instead of one request per wake-up of each backend.
void PoolState::start_batch(std::shared_ptr<Connection> c) noexcept {
  // A fair share of the queue, not all of it: one connection taking every waiter would run
  // them one after another on one backend while the other connections come back to an
  // empty queue.
  const int queued = static_cast<int>(waiters.size());
  const int share = std::clamp((queued + opts.max_open - 1) / opts.max_open,
                               std::min(2, opts.max_batch), opts.max_batch);
  std::vector<std::shared_ptr<Waiter>> batch;
  try {
    batch.reserve(static_cast<std::size_t>(share));
    const auto now = Clock::now();
    while (!waiters.empty() && waiters.front()->job && static_cast<int>(batch.size()) < share) {
      auto w = std::move(waiters.front());
      waiters.pop_front();
      w->queued = false;
      if (w->deadline <= now) {
        // Its caller is answering already: never send statements nobody waits for. It wakes
        // with "pool exhausted" (nothing was sent).
        w->timer.cancel();
        continue;
      }
      w->in_batch = true;
      w->batched_at = now;
      batch.push_back(std::move(w));
    }
    if (batch.empty()) return release(std::move(c));
    if (opts.coalesce_reads) {
      // The same fair share per kind: folding every queued caller onto one connection would
      // run the whole set on one backend (one core) while the other connections come back to
      // an empty queue.
      const int per_kind = std::clamp((queued + opts.max_open - 1) / opts.max_open, 2,
                                      std::max(2, opts.max_coalesce));
      fold_in_same_kind(batch, now, per_kind);
    }
    ++batches;
    batched_calls += batch.size();
    asio::co_spawn(ex, run_batch(shared_from_this(), std::move(c), std::move(batch)),
                   asio::detached);
  } catch (...) {  // out of memory: fail the callers taken so far, keep the pool consistent
    for (auto& w : batch) {
      w->error = std::make_exception_ptr(
          Error(ErrorCode::service_unavailable, "database unavailable", "batch not started"));
      w->done = true;
      w->timer.cancel();
    }
    if (c) drop(c, "batch not started");
  }
}

// Read coalescing: a batch that holds a coalescible read also takes other queued callers of
// the same kind (up to `per_kind` per kind), wherever they wait in the queue. They cost one
// execution together, so taking them now never delays anyone: the callers they overtake wait
// for the next connection exactly as long as before.
void PoolState::fold_in_same_kind(std::vector<std::shared_ptr<Waiter>>& batch,
                                  Clock::time_point now, int per_kind) {
  std::vector<std::pair<const Statement*, int>> kinds;  // kind -> callers in the batch
  for (const auto& w : batch) {
    if (const Statement* k = w->coalescible()) {
      auto it =
          std::find_if(kinds.begin(), kinds.end(), [&](const auto& e) { return e.first == k; });
      if (it == kinds.end()) {
        kinds.emplace_back(k, 1);
      } else {
        ++it->second;
      }
    }
  }
  // Stops as soon as every kind is full: under overload the queue can be long, and this runs
  // on every release.
  const auto all_full = [&] {
    return std::all_of(kinds.begin(), kinds.end(),
                       [&](const auto& e) { return e.second >= per_kind; });
  };
  for (auto it = waiters.begin(); it != waiters.end() && !kinds.empty() && !all_full();) {
    Waiter& w = **it;
    const Statement* k = w.coalescible();
    auto kind =
        std::find_if(kinds.begin(), kinds.end(), [&](const auto& e) { return e.first == k; });
    if (k == nullptr || kind == kinds.end() || kind->second >= per_kind || w.deadline <= now) {
      ++it;
      continue;
    }
    ++kind->second;
    w.queued = false;
    w.in_batch = true;
    w.batched_at = now;
    batch.push_back(std::move(*it));
    it = waiters.erase(it);
  }
}

namespace {

// The set forms' key arrays are padded with NULLs to at least this many elements. PostgreSQL
// plans a prepared statement with its parameter values for the first five executions and
// keeps doing so while those custom plans look cheaper than the generic plan, which assumes
// 10 elements for an array parameter: every set of 2-9 keys was planned anew (≈160 µs of
// PostgreSQL CPU, more than the statement saved). With 16 elements the generic plan wins
// after five executions and is reused. A NULL element matches no row and is nobody's key.
constexpr std::size_t kMinSetElements = 16;

// The rows of `all` whose column `key_col` equals `key`, as a result of their own (same
// columns): what the single statement would have returned for that key.
Result rows_for(const PGresult* all, int key_col, std::string_view key) {
  PGresult* own = PQcopyResult(all, PG_COPYRES_ATTRS);
  if (own == nullptr) throw std::bad_alloc();
  Result out(own);
  const int columns = PQnfields(all);
  int n = 0;
  for (int row = 0; row < PQntuples(all); ++row) {
    if (PQgetisnull(all, row, key_col) ||
        std::string_view(PQgetvalue(all, row, key_col),
                         static_cast<std::size_t>(PQgetlength(all, row, key_col))) != key) {
      continue;
    }
    for (int col = 0; col < columns; ++col) {
      const bool null = PQgetisnull(all, row, col);
      if (PQsetvalue(own, n, col, null ? nullptr : PQgetvalue(all, row, col),
                     null ? -1 : PQgetlength(all, row, col)) == 0) {
        throw std::bad_alloc();
      }
    }
    ++n;
  }
  return out;
}

}  // namespace

asio::awaitable<void> PoolState::run_batch(std::shared_ptr<PoolState> self,
                                           std::shared_ptr<Connection> c,
                                           std::vector<std::shared_ptr<Waiter>> batch) {
  // Each caller is answered the moment its own Sync is read (Segment::on_done), with its own
  // outcome: a later segment that is stuck or breaks the connection cannot turn a committed
  // write into an error. Each segment is bounded by the operation timeout from its own turn,
  // not by one budget for the whole batch.
  const auto answer = [](Waiter& w, Segment& seg) {
    if (w.done) return;
    w.error = seg.error;
    if (!w.error) w.results = std::move(seg.results);
    w.done = true;
    w.timer.cancel();
  };
  // Callers of one coalescible kind (two or more) share one segment running the set form;
  // everyone else gets a segment of their own, in queue order.
  struct Group {
    std::vector<Waiter*> callers;
    std::vector<Query> query;                     // the set form, with the distinct keys
    std::vector<const RequestContext*> contexts;  // callers after the first, for their spans
  };
  std::vector<Group> groups;
  groups.reserve(batch.size());
  {
    std::vector<std::pair<const Statement*, std::size_t>> kinds;  // kind -> index in groups
    for (auto& w : batch) {
      const Statement* k = self->opts.coalesce_reads ? w->coalescible() : nullptr;
      auto it =
          std::find_if(kinds.begin(), kinds.end(), [&](const auto& e) { return e.first == k; });
      if (k == nullptr || it == kinds.end()) {
        if (k != nullptr) kinds.emplace_back(k, groups.size());
        groups.push_back(Group{{w.get()}, {}, {}});
      } else {
        groups[it->second].callers.push_back(w.get());
      }
    }
  }
  std::vector<Segment> segments;
  segments.reserve(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Group& group = groups[g];
    Waiter& first = *group.callers.front();
    std::span<const Query> queries = first.queries;
    Clock::time_point deadline = first.deadline;
    if (group.callers.size() > 1) {
      const Statement& single = *first.queries.front().statement;
      std::vector<std::string_view> keys;
      for (Waiter* w : group.callers) {
        const std::string& key = *w->queries.front().params.values().front();
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
        if (w != &first) group.contexts.push_back(w->ctx ? &*w->ctx : nullptr);
        deadline = std::max(deadline, w->deadline);
      }
      group.query.push_back(Query{single.coalesced, Params{text_array(keys, kMinSetElements)}});
      queries = group.query;
      ++self->coalesced;
      self->coalesced_calls += group.callers.size();
      if (self->metrics != nullptr) {
        self->metrics->db_coalesced(single.name, static_cast<int>(group.callers.size()));
      }
    }
    Segment seg{queries,
                Instrumentation{self->metrics, self->tracer, first.ctx ? &*first.ctx : nullptr,
                                self->opts.name, group.contexts},
                deadline};
    // Behind another caller's transaction, a write could reach the server after its caller
    // gave up: the guard rolls it back then instead of letting it commit unseen.
    seg.guard = self->opts.deadline_guard && g > 0 && seg.writes();
    segments.push_back(std::move(seg));
  }
  // Each caller of a shared segment gets its own rows: the single statement's answer for its
  // key (none: the single statement would have found none either).
  const auto answer_group = [&answer](Group& group, Segment& seg) {
    if (group.callers.size() == 1) return answer(*group.callers.front(), seg);
    const Statement& single = *group.callers.front()->queries.front().statement;
    for (Waiter* w : group.callers) {
      if (w->done) continue;
      w->error = seg.error;
      if (!w->error) {
        try {
          const auto& key = *w->queries.front().params.values().front();
          std::vector<Result> own;
          own.push_back(rows_for(seg.results.at(0).raw(), single.coalesced_key, key));
          w->results = std::move(own);
        } catch (...) {
          w->error = std::current_exception();
        }
      }
      w->done = true;
      w->timer.cancel();
    }
  };
  // Two words (a pointer and an index), so std::function keeps the closure inline instead of
  // allocating one per segment.
  struct Parts {
    decltype(answer_group)& answer;
    std::vector<Group>& all_groups;
    std::vector<Segment>& all_segments;
  } parts{answer_group, groups, segments};
  for (std::size_t g = 0; g < groups.size(); ++g) {
    segments[g].on_done = [p = &parts, g] { p->answer(p->all_groups[g], p->all_segments[g]); };
  }
  try {
    co_await c->run_batch(segments, Budget{self->opts.operation_timeout, false});
  } catch (...) {  // a programming error: whoever has no outcome yet gets it
    const auto failed = std::current_exception();
    for (auto& w : batch) {
      if (w->done) continue;
      w->error = failed;
      w->done = true;
      w->timer.cancel();
    }
  }
  self->release(std::move(c));
}

void PoolState::drop(const std::shared_ptr<Connection>& c, std::string_view reason) noexcept {
  c->close(reason);
  --open;
  pass_slot();
}

void PoolState::pass_slot() noexcept {
  if (closed || waiters.empty() || open >= opts.max_open) return;
  ++open;
  auto w = std::move(waiters.front());
  waiters.pop_front();
  w->queued = false;
  w->slot = true;
  w->timer.cancel();
}

void PoolState::abandon(Waiter& w) noexcept {
  if (w.queued) {
    w.queued = false;
    auto it = std::find_if(waiters.begin(), waiters.end(),
                           [&](const std::shared_ptr<Waiter>& p) { return p.get() == &w; });
    if (it != waiters.end()) waiters.erase(it);
  }
  if (w.conn) release(std::exchange(w.conn, nullptr));
  if (w.slot) {
    w.slot = false;
    --open;
    pass_slot();
  }
}

void PoolState::close() noexcept {
  if (closed) return;
  closed = true;
  for (auto& i : idle) {
    i.conn->close("pool closed");
    --open;
  }
  idle.clear();
  trim_timer.cancel();
  auto queued = std::move(waiters);
  waiters.clear();
  for (auto& w : queued) {
    w->queued = false;
    w->closed = true;
    w->timer.cancel();
  }
  log.debug("postgres pool closed", {{"pool", opts.name}});
}

}  // namespace detail

// --- Lease ---

Lease::Lease(std::shared_ptr<detail::PoolState> pool, std::shared_ptr<detail::Connection> conn)
    : pool_(std::move(pool)), conn_(std::move(conn)) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

Lease::~Lease() { release(); }

void Lease::release() noexcept {
  if (pool_ && conn_) pool_->release(std::move(conn_));
  conn_.reset();
  pool_.reset();
}

int Lease::backend_pid() const { return conn_ ? conn_->backend_pid() : 0; }

asio::awaitable<Result> Lease::query(const Statement& s, Params params,
                                     Clock::time_point deadline) {
  std::vector<Query> queries;
  queries.push_back(Query{&s, std::move(params)});
  auto results = co_await pipeline(std::move(queries), deadline);
  co_return std::move(results.front());
}

asio::awaitable<std::vector<Result>> Lease::pipeline(std::vector<Query> queries,
                                                     Clock::time_point deadline) {
  co_return co_await run(std::move(queries), deadline, nullptr);
}

asio::awaitable<Result> Lease::query(const Statement& s, Params params, const RequestContext& ctx) {
  std::vector<Query> queries;
  queries.push_back(Query{&s, std::move(params)});
  auto results = co_await run(std::move(queries), ctx.deadline, &ctx);
  co_return std::move(results.front());
}

asio::awaitable<std::vector<Result>> Lease::pipeline(std::vector<Query> queries,
                                                     const RequestContext& ctx) {
  co_return co_await run(std::move(queries), ctx.deadline, &ctx);
}

asio::awaitable<std::vector<Result>> Lease::run(std::vector<Query> queries,
                                                Clock::time_point deadline,
                                                const RequestContext* ctx) {
  // Copies: the Lease may be moved or destroyed while this frame is suspended.
  auto pool = pool_;
  auto conn = conn_;
  if (!conn) throw std::logic_error("postgres Lease used after release");
  if (conn->closed()) {
    throw Error(ErrorCode::service_unavailable, "database unavailable", "connection closed");
  }
  detail::Instrumentation instr{pool->metrics, pool->tracer, ctx, pool->opts.name};
  co_return co_await conn->run(queries, deadline,
                               detail::Budget{pool->opts.operation_timeout, true}, instr);
}

asio::awaitable<void> Lease::run_segment(detail::Segment& segment) {
  auto pool = pool_;
  auto conn = conn_;
  if (!conn) throw std::logic_error("postgres Lease used after release");
  if (conn->closed()) {
    throw Error(ErrorCode::service_unavailable, "database unavailable", "connection closed");
  }
  segment.instr.metrics = pool->metrics;
  segment.instr.tracer = pool->tracer;
  segment.instr.pool_name = pool->opts.name;
  co_await conn->run_batch(std::span<detail::Segment>(&segment, 1),
                           detail::Budget{pool->opts.operation_timeout, true});
}

asio::awaitable<std::vector<Result>> Lease::execute(std::string sql, Clock::time_point deadline) {
  auto conn = conn_;
  if (!conn) throw std::logic_error("postgres Lease used after release");
  co_return co_await conn->execute(std::move(sql), detail::OpLimit{deadline, true});
}

asio::awaitable<Result> Lease::execute(const Statement& s, Params params,
                                       Clock::time_point deadline) {
  auto conn = conn_;
  if (!conn) throw std::logic_error("postgres Lease used after release");
  const detail::OpLimit limit{deadline, true};
  std::vector<Result> results = co_await conn->execute(std::string(s.sql), limit, &params);
  co_return results.empty() ? Result() : std::move(results.front());
}

// --- Pool ---

Pool::Pool(asio::any_io_executor ex, PoolOptions opts, telemetry::Logger& log,
           telemetry::Metrics* metrics)
    : state_(std::make_shared<detail::PoolState>(std::move(ex), std::move(opts), log, metrics)) {}

Pool::~Pool() { state_->close(); }

asio::awaitable<void> Pool::ping(Clock::time_point deadline) {
  try {
    co_await query(sql::kUserservicePing, {}, deadline);
  } catch (const Error& e) {
    throw Error(ErrorCode::service_unavailable, "database unavailable",
                e.detail().empty() ? e.message() : e.detail());
  } catch (const SqlError& e) {
    throw Error(ErrorCode::service_unavailable, "database unavailable", e.what());
  }
}

asio::awaitable<Result> Pool::query(const Statement& s, Params params, Clock::time_point deadline) {
  std::vector<Query> queries;
  queries.push_back(Query{&s, std::move(params)});
  auto results = co_await pipeline(std::move(queries), deadline);
  co_return std::move(results.front());
}

asio::awaitable<std::vector<Result>> Pool::pipeline(std::vector<Query> queries,
                                                    Clock::time_point deadline) {
  co_return co_await run(std::move(queries), deadline, nullptr);
}

asio::awaitable<Result> Pool::query(const Statement& s, Params params, const RequestContext& ctx) {
  std::vector<Query> queries;
  queries.push_back(Query{&s, std::move(params)});
  auto results = co_await run(std::move(queries), ctx.deadline, &ctx);
  co_return std::move(results.front());
}

asio::awaitable<std::vector<Result>> Pool::pipeline(std::vector<Query> queries,
                                                    const RequestContext& ctx) {
  co_return co_await run(std::move(queries), ctx.deadline, &ctx);
}

asio::awaitable<std::vector<Result>> Pool::run(std::vector<Query> queries,
                                               Clock::time_point deadline,
                                               const RequestContext* ctx) {
  auto state = state_;
  if (Clock::now() >= deadline) {
    throw Error(ErrorCode::deadline_exceeded, "request deadline exceeded");
  }
  if (ctx != nullptr && ctx->transaction != nullptr && &ctx->transaction->pool_ == this) {
    co_return co_await ctx->transaction->run(std::move(queries), deadline, ctx, false);
  }
  std::shared_ptr<detail::Waiter> job;
  if (state->must_queue()) {
    // Will have to wait: queue with the statements, so that they can join a batch.
    job = std::make_shared<detail::Waiter>(state->ex);
    job->job = true;
    job->queries = std::move(queries);
    job->deadline = deadline;
    if (ctx != nullptr) job->ctx = *ctx;
  }
  auto lease = co_await state->acquire(deadline, job);
  if (!lease) {
    if (job->error) std::rethrow_exception(job->error);
    co_return std::move(job->results);
  }
  co_return co_await lease->run(job ? std::move(job->queries) : std::move(queries), deadline, ctx);
}

asio::awaitable<Lease> Pool::acquire(Clock::time_point deadline) {
  auto state = state_;
  auto lease = co_await state->acquire(deadline, nullptr);
  co_return std::move(*lease);
}

void Pool::close() { state_->close(); }

PoolStats Pool::stats() const {
  const auto& s = *state_;
  PoolStats out;
  out.idle = static_cast<int>(s.idle.size());
  out.in_use = s.open - out.idle;
  out.max_open = s.opts.max_open;
  out.wait_count = s.wait_count;
  out.wait_seconds_total = s.wait_seconds_total;
  out.closed_max_idle = s.closed_max_idle;
  out.closed_max_idle_time = s.closed_max_idle_time;
  out.closed_max_lifetime = s.closed_max_lifetime;
  out.batches = s.batches;
  out.batched_calls = s.batched_calls;
  out.coalesced = s.coalesced;
  out.coalesced_calls = s.coalesced_calls;
  out.prepared_statements = *s.prepared_total;
  return out;
}

const PoolOptions& Pool::options() const { return state_->opts; }

void Pool::set_tracer(const telemetry::Tracer* tracer) { state_->tracer = tracer; }

}  // namespace userservice::postgres

// --- DbTransaction ---

namespace userservice {

namespace asio = boost::asio;
using domain::Error;
using domain::ErrorCode;

namespace {

const postgres::Statement& kBegin = postgres::sql::kUserserviceBegin;
const postgres::Statement& kCommit = postgres::sql::kUserserviceCommit;
const postgres::Statement& kRollback = postgres::sql::kUserserviceRollback;

}  // namespace

DbTransaction::DbTransaction(postgres::Pool& pool, std::vector<postgres::Query> prologue,
                             std::vector<const postgres::Statement*> later)
    : pool_(pool), prologue_(std::move(prologue)), later_(std::move(later)) {
  later_.push_back(&kCommit);
  later_.push_back(&kRollback);
}

// The Lease goes back to the pool; a connection still inside the transaction is closed rather
// than reused, which makes the server roll back.
DbTransaction::~DbTransaction() = default;

asio::awaitable<std::vector<postgres::Result>> DbTransaction::run(
    std::vector<postgres::Query> queries, Clock::time_point deadline, const RequestContext* ctx,
    bool ends) {
  using postgres::Query;
  if (ended_) throw std::logic_error("postgres transaction used after it ended");
  if (failed_ && !ends) {
    throw Error(ErrorCode::service_unavailable, "database unavailable",
                "statement after a failure in the same transaction");
  }
  if (!lease_) lease_.emplace(co_await pool_.acquire(deadline));
  std::size_t skip = 0;
  if (!begun_) {
    std::vector<Query> all;
    all.reserve(1 + prologue_.size() + queries.size());
    all.push_back(Query{&kBegin, {}});
    for (auto& q : prologue_) all.push_back(std::move(q));
    for (auto& q : queries) all.push_back(std::move(q));
    skip = 1 + prologue_.size();
    queries = std::move(all);
    begun_ = true;
  }
  postgres::detail::Segment seg{queries, {}, deadline};
  seg.instr.ctx = ctx;
  if (skip > 0) seg.prepare_also = later_;
  seg.commits = ends;  // until COMMIT, nothing this transaction did can be committed
  try {
    co_await lease_->run_segment(seg);
  } catch (...) {
    failed_ = true;
    throw;
  }
  if (skip > 0) {
    bool prologue_ran = true;
    for (std::size_t i = 0; i < skip; ++i) prologue_ran = prologue_ran && bool(seg.results[i]);
    if (prologue_ran) {
      for (std::size_t i = 1; i < skip; ++i) prologue_results_.push_back(std::move(seg.results[i]));
    } else {
      prologue_error_ = seg.error ? seg.error
                                  : std::make_exception_ptr(Error(
                                        ErrorCode::service_unavailable, "database unavailable",
                                        "transaction prologue did not run"));
    }
  }
  if (seg.error) {
    failed_ = true;
    std::rethrow_exception(seg.error);
  }
  seg.results.erase(seg.results.begin(), seg.results.begin() + static_cast<std::ptrdiff_t>(skip));
  co_return std::move(seg.results);
}

asio::awaitable<std::vector<postgres::Result>> DbTransaction::commit(
    std::vector<postgres::Query> queries, const RequestContext& ctx) {
  if (failed_) throw std::logic_error("commit of a failed postgres transaction");
  queries.push_back(postgres::Query{&kCommit, {}});
  auto results = co_await run(std::move(queries), ctx.deadline, &ctx, true);
  ended_ = true;
  lease_.reset();  // idle again: back to the pool
  results.pop_back();
  co_return results;
}

asio::awaitable<std::vector<postgres::Result>> DbTransaction::rollback(
    std::vector<postgres::Query> after, const RequestContext& ctx) {
  std::vector<postgres::Query> queries;
  queries.reserve(1 + after.size());
  queries.push_back(postgres::Query{&kRollback, {}});
  for (auto& q : after) queries.push_back(std::move(q));
  failed_ = false;  // ROLLBACK is what a failed transaction accepts
  std::vector<postgres::Result> results;
  try {
    results = co_await run(std::move(queries), ctx.deadline, &ctx, false);
  } catch (...) {
    failed_ = true;
    throw;
  }
  ended_ = true;
  lease_.reset();
  results.erase(results.begin());
  co_return results;
}

}  // namespace userservice
