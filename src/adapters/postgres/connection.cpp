#include "adapters/postgres/connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "adapters/postgres/libpq_text.h"
#include "adapters/postgres/sqlstate.h"
#include "common/scope_exit.h"
#include "domain/error.h"
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/
#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace userservice::postgres::detail {

namespace asio = boost::asio;
using domain::Error;
using domain::ErrorCode;

struct Connection::Private {
  explicit Private() = default;
};

namespace {

Error unavailable(std::string detail) {
  return Error(ErrorCode::service_unavailable, "database unavailable", std::move(detail));
}

using detail::field;
using detail::trimmed;

// Readiness right now, without blocking: a shortcut past the reactor when data is already
// waiting (libpq stops reading when its buffer is full). Not needed for correctness: starting
// an async_wait re-arms the descriptor in Asio's epoll reactor (EPOLL_CTL_MOD), which reports
// readiness that already exists (tests/unit/asio_wait_test.cpp checks this).
bool ready_now(int fd, short events) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r > 0;  // POLLERR/POLLHUP count as ready: libpq will report the error
}

// Errors after which the connection is gone (server shutdown, protocol loss, FATAL): these
// mean "database unavailable", not a statement the caller got wrong.
bool connection_level(const PGresult* res, PGconn* conn) {
  if (PQstatus(conn) == CONNECTION_BAD) return true;
  return sqlstate::is_connection_failure(field(res, PG_DIAG_SQLSTATE),
                                         field(res, PG_DIAG_SEVERITY_NONLOCALIZED));
}

SqlError make_sql_error(const PGresult* res, std::string_view statement) {
  std::string message = field(res, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = trimmed(PQresultErrorMessage(res));
  return SqlError(message, field(res, PG_DIAG_SQLSTATE), field(res, PG_DIAG_CONSTRAINT_NAME),
                  std::string(statement), field(res, PG_DIAG_MESSAGE_DETAIL));
}

}  // namespace

ConnectParams make_connect_params(const std::string& dsn,
                                  std::chrono::nanoseconds statement_timeout,
                                  bool transaction_pooling) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &err);
  if (parsed == nullptr) {
    std::string msg = err ? trimmed(err) : "out of memory";
    if (err) PQfreemem(err);
    throw std::invalid_argument("invalid PostgreSQL DSN: " + msg);
  }
  ConnectParams p;
  std::string options;
  bool has_fallback_name = false;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "options") {
      options = o->val;
      continue;
    }
    if (key == "fallback_application_name") has_fallback_name = true;
    if (key == "connect_timeout") {
      // Same reading as libpq: whole seconds, <= 0 means none, 1 means 2.
      int secs = 0;
      const std::string_view v = o->val;
      std::from_chars(v.data(), v.data() + v.size(), secs);
      if (secs > 0) p.connect_timeout = std::chrono::seconds(std::max(secs, 2));
    }
    p.keywords.emplace_back(key);
    p.values.emplace_back(o->val);
  }
  PQconninfoFree(parsed);
  p.transaction_pooling = transaction_pooling;
  if (statement_timeout > std::chrono::nanoseconds::zero()) {
    // The server enforces the operation timeout too, so a statement whose client gave up
    // does not keep running.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(statement_timeout).count();
    if (transaction_pooling) {
      p.local_timeout_ms = std::to_string(ms);
    } else {
      p.session_timeout_ms = std::to_string(ms);
    }
  }
  if (!options.empty()) {
    p.keywords.emplace_back("options");
    p.values.push_back(std::move(options));
  }
  if (!has_fallback_name) {
    p.keywords.emplace_back("fallback_application_name");
    p.values.emplace_back("userservice");
  }
  return p;
}

Connection::Connection(Private, asio::any_io_executor ex, PGconn* conn, telemetry::Logger& log,
                       std::string pool_name)
    : ex_(ex), conn_(conn), log_(log), pool_name_(std::move(pool_name)), timer_(ex) {}

Connection::~Connection() { close("destroyed"); }

asio::awaitable<std::shared_ptr<Connection>> Connection::open(
    asio::any_io_executor ex, const ConnectParams& params, OpLimit limit, telemetry::Logger& log,
    std::string pool_name, std::shared_ptr<std::int64_t> prepared_total) {
  std::vector<const char*> keys, values;
  for (std::size_t i = 0; i < params.keywords.size(); ++i) {
    keys.push_back(params.keywords[i].c_str());
    values.push_back(params.values[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), 0);
  if (raw == nullptr) throw unavailable("PQconnectStartParams: out of memory");
  auto conn = std::make_shared<Connection>(Private{}, ex, raw, log, std::move(pool_name));
  conn->prepared_total_ = std::move(prepared_total);
  conn->transaction_pooling_ = params.transaction_pooling;
  conn->local_timeout_ms_ = params.local_timeout_ms;
  // Server notices (e.g. "relation already exists, skipping") go to our log, not stderr.
  PQsetNoticeProcessor(raw, &Connection::on_notice, conn.get());
  co_await conn->connect(limit, params.session_timeout_ms);
  co_return conn;
}

asio::awaitable<void> Connection::connect(OpLimit limit, std::string_view session_timeout_ms) {
  begin_op(limit);
  bool completed = false;
  ScopeExit guard([&] {
    if (completed) {
      end_op();
    } else {
      close("connect failed");
    }
  });
  try {
    if (PQstatus(conn_) == CONNECTION_BAD) fail("connect");
    // As the libpq docs prescribe: behave as if PQconnectPoll last returned WRITING.
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) fail("connect");
      // The socket can change between steps (several hosts, SSL fallback): wrap it afresh
      // each time and release it before libpq may close it.
      fd_ = PQsocket(conn_);
      if (fd_ < 0) fail("connect");
      socket_.emplace(ex_, fd_);
      co_await wait(st == PGRES_POLLING_READING ? Wait::read : Wait::write);
      socket_->release();
      socket_.reset();
      st = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) fail("PQsetnonblocking");
    fd_ = PQsocket(conn_);
    socket_.emplace(ex_, fd_);
    if (!session_timeout_ms.empty()) {
      // One round trip per new connection, within the connect limit.
      const std::string text(sql::kUserserviceSessionTimeout.sql);
      const std::string ms(session_timeout_ms);
      const char* value = ms.c_str();
      if (PQsendQueryParams(conn_, text.c_str(), 1, nullptr, &value, nullptr, nullptr, 0) == 0) {
        fail("send");
      }
      co_await flush();
      while (PGresult* raw = co_await next_result()) {
        Result res(raw);
        if (PQresultStatus(raw) != PGRES_TUPLES_OK) fail("session setup");
      }
    }
    if (PQenterPipelineMode(conn_) != 1) fail("PQenterPipelineMode");
  } catch (const Error& e) {
    log_.warn("postgres connect failed", {{"pool", pool_name_}, {"error", e.detail()}});
    throw;
  } catch (const boost::system::system_error& e) {
    // Registering the socket with the reactor failed, or the caller cancelled the connect.
    if (e.code() == asio::error::operation_aborted) throw;
    log_.warn("postgres connect failed", {{"pool", pool_name_}, {"error", e.what()}});
    throw unavailable(e.what());
  }
  completed = true;
  log_.debug("postgres connection opened",
             {{"pool", pool_name_}, {"backend_pid", PQbackendPID(conn_)}});
}

void Connection::on_notice(void* self, const char* message) {
  auto* c = static_cast<Connection*>(self);
  if (!c->log_.enabled(telemetry::Level::debug)) return;
  c->log_.debug("postgres notice", {{"pool", c->pool_name_}, {"message", trimmed(message)}});
}

void Connection::begin_op(OpLimit limit) {
  busy_ = true;
  timed_out_ = false;
  set_limit(limit);
}

// (Re)arms the operation timer. The timer cancels the socket wait in progress; the sequence
// number ignores a late expiry that belongs to an earlier operation or an earlier limit.
void Connection::set_limit(OpLimit limit) {
  limit_ = limit;
  const std::uint64_t seq = ++op_seq_;
  timer_.expires_at(limit.at);
  timer_.async_wait([weak = weak_from_this(), seq](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || self->op_seq_ != seq) return;
    self->timed_out_ = true;
    if (self->socket_) {
      boost::system::error_code ignored;
      self->socket_->cancel(ignored);
    }
  });
}

void Connection::end_op() noexcept {
  ++op_seq_;
  try {
    timer_.cancel();
  } catch (...) {  // cannot fail on a valid timer; keep close() noexcept
  }
  busy_ = false;
  fresh_send_ = false;
}

void Connection::fail(std::string_view what) {
  std::string detail(what);
  if (conn_) {
    const std::string msg = trimmed(PQerrorMessage(conn_));
    if (!msg.empty()) detail += ": " + msg;
  } else {
    detail += ": connection closed";
  }
  // libpq may already have closed the socket: take it out of the reactor before anything
  // else can reuse the descriptor number.
  if (socket_) {
    socket_->release();
    socket_.reset();
  }
  throw unavailable(std::move(detail));
}

void Connection::check_socket() {
  if (!conn_) fail("connection closed");
  if (PQstatus(conn_) == CONNECTION_BAD || PQsocket(conn_) != fd_) fail("connection lost");
}

asio::awaitable<void> Connection::wait(Wait kind) {
  check_socket();
  const auto timeout = [this] {
    if (limit_.request_deadline) {
      return Error(ErrorCode::deadline_exceeded, "request deadline exceeded");
    }
    return unavailable("operation timeout");
  };
  if (timed_out_ || Clock::now() >= limit_.at) throw timeout();
  // No probe for the first read wait after a pipeline was sent: its reply is practically
  // never back within the microseconds since the send, so the poll(2) (~1.5 us on this VM)
  // would be wasted on every request.
  const bool probe = !(kind == Wait::read && fresh_send_);
  fresh_send_ = false;
  if (probe && ready_now(fd_, kind == Wait::read ? POLLIN : POLLOUT)) co_return;
  auto [ec] =
      co_await socket_->async_wait(kind == Wait::read ? asio::posix::stream_descriptor::wait_read
                                                      : asio::posix::stream_descriptor::wait_write,
                                   asio::as_tuple(asio::use_awaitable));
  if (timed_out_) throw timeout();
  if (ec == asio::error::operation_aborted) {
    throw boost::system::system_error(ec, "postgres operation cancelled");
  }
  if (ec) throw unavailable("socket wait: " + ec.message());
}

asio::awaitable<void> Connection::flush() {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return;
    if (r < 0) fail("send");
    // PQflush already read pending input (libpq does, to avoid a send/receive deadlock).
    co_await wait(Wait::write);
  }
}

asio::awaitable<PGresult*> Connection::next_result() {
  // PQisBusy false means PQgetResult will not block; otherwise read more.
  while (PQisBusy(conn_)) {
    co_await wait(Wait::read);
    if (PQconsumeInput(conn_) == 0) fail("receive");
  }
  co_return PQgetResult(conn_);
}

asio::awaitable<std::vector<Result>> Connection::run(std::span<const Query> queries,
                                                     Clock::time_point deadline, Budget budget,
                                                     Instrumentation instr) {
  Segment seg{queries, instr, deadline};
  co_await run_batch(std::span<Segment>(&seg, 1), budget);
  if (seg.error) std::rethrow_exception(seg.error);
  co_return std::move(seg.results);
}

asio::awaitable<PGresult*> Connection::next_in_pipeline() {
  // Each result is followed by a NULL; two NULLs in a row mean the pipeline lost its place.
  for (int nulls = 0;;) {
    PGresult* raw = co_await next_result();
    if (raw != nullptr) co_return raw;
    check_socket();
    if (++nulls > 1) fail("unexpected end of pipeline results");
  }
}

namespace {

// Run first in a batched write queued behind another caller's transaction (migrations/0005).
const Statement& kDeadlineGuard = sql::kUserserviceDeadlineGuard;
// Behind a transaction pooler: the statement_timeout of this transaction only (is_local),
// so that it never sticks to a server session other clients get next.
const Statement& kLocalTimeout = sql::kUserserviceLocalTimeout;

// The caller's steady-clock deadline as wall-clock microseconds, for the server-side guard.
std::string wall_clock_us(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return std::to_string((now + left).count());
}

// When segment `seg` must have been read completely, its turn having begun at `start`.
OpLimit segment_limit(const Segment& seg, Budget budget, Clock::time_point start) {
  OpLimit limit{Clock::time_point::max(), false};
  if (budget.operation_timeout > std::chrono::nanoseconds::zero()) {
    const auto op = std::chrono::duration_cast<Clock::duration>(budget.operation_timeout);
    limit.at = start + (seg.writes() ? 2 * op : op);
  }
  if ((budget.caller_deadline || limit.at == Clock::time_point::max()) &&
      seg.deadline <= limit.at) {
    limit = {seg.deadline, budget.caller_deadline};
  }
  return limit;
}

Error outcome_unknown(std::string detail) {
  return Error(ErrorCode::deadline_exceeded,
               "the database did not confirm the change in time; it may have been applied",
               std::move(detail));
}

}  // namespace

asio::awaitable<void> Connection::run_batch(std::span<Segment> segments, Budget budget) {
  auto self = shared_from_this();  // a timer or a Lease may outlive the caller's frame
  if (!conn_) throw unavailable("connection closed");
  if (busy_) throw std::logic_error("postgres connection used by two operations at once");

  // Validate before sending anything so that a programming error leaves no half-sent
  // pipeline behind; collect the statements this connection has not prepared yet.
  std::vector<const Statement*> to_prepare;
  const auto need = [&](const Statement& st) {
    std::string_view known_sql;
    if (const auto known = prepared_.find(st.name); known != prepared_.end()) {
      known_sql = known->second;
    } else {
      const auto it = std::find_if(to_prepare.begin(), to_prepare.end(),
                                   [&](const Statement* p) { return p->name == st.name; });
      if (it == to_prepare.end()) {
        to_prepare.push_back(&st);
        return;
      }
      known_sql = (*it)->sql;
    }
    if (known_sql != st.sql) {
      throw std::logic_error("two postgres statements share the name " + std::string(st.name));
    }
  };
  std::size_t total = 0;
  for (const Segment& seg : segments) {
    if (seg.guard && !transaction_pooling_) need(kDeadlineGuard);
    if (!transaction_pooling_) {
      for (const Statement* st : seg.prepare_also) need(*st);
    }
    for (const Query& q : seg.queries) {
      if (q.statement == nullptr) throw std::logic_error("postgres query without a statement");
      ++total;
      if (!q.statement->one_shot && !transaction_pooling_) need(*q.statement);
    }
  }
  // The per-transaction timeout goes first in a segment that starts a transaction; inside an
  // explicit one the setting of its first segment still holds (set_config is_local lasts to
  // COMMIT/ROLLBACK), and an aborted one would refuse it and skip the caller's ROLLBACK.
  const bool timeout_first = local_timeout() && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  if (transaction_pooling_ && segments.size() > 1) {
    // A transaction pooler may hand the server session on after the first Sync's
    // ReadyForQuery while later segments' results are still due (PgBouncer before 1.21).
    throw std::logic_error("several segments in one round trip behind a transaction pooler");
  }
  if (total == 0) {
    for (Segment& seg : segments) {
      if (seg.on_done) seg.on_done();
    }
    co_return;
  }

  const auto started = Clock::now();
  begin_op(segment_limit(segments[0], budget, started));
  bool completed = false;
  const std::uint64_t started_unix = telemetry::unix_nanos_now();
  std::vector<std::vector<char>> recorded(segments.size());
  for (std::size_t k = 0; k < segments.size(); ++k) {
    recorded[k].assign(segments[k].queries.size(), 0);
    segments[k].results.clear();
    segments[k].results.resize(segments[k].queries.size());
    segments[k].error = nullptr;
  }
  const auto record = [&](std::size_t k, std::size_t i, bool ok) {
    if (recorded[k][i]) return;
    recorded[k][i] = 1;
    const Segment& seg = segments[k];
    const Statement& st = *seg.queries[i].statement;
    if (seg.instr.metrics) {
      const std::chrono::duration<double> secs = Clock::now() - started;
      seg.instr.metrics->db_query(st.name, secs.count(), ok);
    }
    if (seg.instr.tracer == nullptr) return;
    const auto span_for = [&](const RequestContext* ctx) {
      if (ctx == nullptr || !seg.instr.tracer->recording(*ctx)) return;
      // One client span per statement, all starting when the pipeline was sent: they share
      // one round trip, and each ends when its own result has been read.
      telemetry::SpanData span =
          seg.instr.tracer->child_of(*ctx, st.name, telemetry::SpanKind::client);
      span.start_unix_nano = started_unix;
      span.attributes.push_back({"db.system", std::string("postgresql")});
      span.attributes.push_back({"db.operation.name", std::string(st.name)});
      span.attributes.push_back({"db.pool.name", std::string(seg.instr.pool_name)});
      span.attributes.push_back(
          {"db.operation.batch.size", static_cast<std::int64_t>(seg.queries.size())});
      if (!seg.instr.also.empty()) {
        span.attributes.push_back({"userservice.db.coalesced_requests",
                                   static_cast<std::int64_t>(seg.instr.also.size() + 1)});
      }
      if (!ok) span.status = telemetry::SpanStatus::error;
      seg.instr.tracer->end(std::move(span));
    };
    span_for(seg.instr.ctx);
    for (const RequestContext* other : seg.instr.also) span_for(other);
  };
  // Segments [0, finished) have their final outcome and were told so.
  std::size_t finished = 0;
  const auto finish = [&](std::size_t k) {
    for (std::size_t i = 0; i < segments[k].queries.size(); ++i) record(k, i, false);
    finished = k + 1;
    if (segments[k].on_done) segments[k].on_done();
  };
  ScopeExit guard([&] {
    for (std::size_t k = 0; k < segments.size(); ++k) {
      for (std::size_t i = 0; i < segments[k].queries.size(); ++i) record(k, i, false);
    }
    if (completed) {
      end_op();
    } else {
      // Timed out, cancelled or broken mid-pipeline: the protocol state is unknown.
      close("operation failed");
    }
  });

  // A statement the server rejected at PREPARE: its executions report this error rather
  // than "prepared statement does not exist".
  std::vector<std::pair<std::string_view, SqlError>> prepare_errors;
  // The server ended the session with an error of its own (shutdown, FATAL): whatever it had
  // not confirmed yet was rolled back, not left in doubt.
  bool server_ended = false;
  const auto rejected = [&](const PGresult* raw) {
    std::string detail = trimmed(PQresultErrorMessage(raw));
    server_ended = !field(raw, PG_DIAG_SQLSTATE).empty();
    if (socket_ && PQstatus(conn_) == CONNECTION_BAD) {
      socket_->release();
      socket_.reset();
    }
    return unavailable(detail.empty() ? "connection lost" : detail);
  };

  bool sent = false;  // from the first byte that may have left: outcomes are then in doubt
  try {
    // Wire order: each new statement's PREPARE in a section of its own (so that one bad
    // statement cannot abort the others), then each segment's executions closed by a Sync.
    // A Sync ends an implicit transaction and an error's abort, so segments (the requests
    // of a batch) cannot affect one another; all of it is one round trip. (libpq 15 flushes
    // at every PQpipelineSync, so it leaves in one send(2) per Sync; corking the socket
    // around them was measured and not kept: docs/benchmarks.md, appendix entry 13.)
    fresh_send_ = true;
    sent = true;
    for (const Statement* st : to_prepare) {
      const std::string name(st->name);
      const std::string sql(st->sql);
      if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0) fail("send");
      if (PQpipelineSync(conn_) == 0) fail("send");
    }
    std::vector<const char*> values;
    for (const Segment& seg : segments) {
      if (timeout_first) {
        const char* v = local_timeout_ms_.c_str();
        const std::string sql(kLocalTimeout.sql);
        if (PQsendQueryParams(conn_, sql.c_str(), 1, nullptr, &v, nullptr, nullptr, 0) == 0) {
          fail("send");
        }
      }
      if (seg.guard) {
        const std::string deadline_us = wall_clock_us(seg.deadline);
        const char* v = deadline_us.c_str();
        int sent_ok;
        if (transaction_pooling_) {
          const std::string sql(kDeadlineGuard.sql);
          sent_ok = PQsendQueryParams(conn_, sql.c_str(), 1, nullptr, &v, nullptr, nullptr, 0);
        } else {
          const std::string name(kDeadlineGuard.name);
          sent_ok = PQsendQueryPrepared(conn_, name.c_str(), 1, &v, nullptr, nullptr, 0);
        }
        if (sent_ok == 0) fail("send");
      }
      for (const Query& q : seg.queries) {
        values.clear();
        for (const Param& p : q.params) values.push_back(p ? p->c_str() : nullptr);
        int sent_ok;
        if (q.statement->one_shot || transaction_pooling_) {
          const std::string sql(q.statement->sql);
          sent_ok = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                      values.data(), nullptr, nullptr, 0);
        } else {
          const std::string name(q.statement->name);
          sent_ok = PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()),
                                        values.data(), nullptr, nullptr, 0);
        }
        if (sent_ok == 0) fail("send");
      }
      if (PQpipelineSync(conn_) == 0) fail("send");
    }
    co_await flush();

    for (const Statement* st : to_prepare) {
      PGresult* raw = co_await next_in_pipeline();
      Result res(raw);
      const ExecStatusType status = PQresultStatus(raw);
      if (status == PGRES_COMMAND_OK) {
        prepared_.emplace(std::string(st->name), std::string(st->sql));
        if (prepared_total_) ++*prepared_total_;
      } else if (status == PGRES_FATAL_ERROR) {
        if (connection_level(raw, conn_)) throw rejected(raw);
        prepare_errors.emplace_back(st->name, make_sql_error(raw, st->name));
      } else {
        fail(std::string("unexpected result status ") + PQresStatus(status));
      }
      co_await expect_sync();
    }

    for (std::size_t k = 0; k < segments.size(); ++k) {
      Segment& seg = segments[k];
      // Each segment's own budget starts when its turn comes, not when the batch was sent.
      if (k > 0 || !to_prepare.empty()) set_limit(segment_limit(seg, budget, Clock::now()));
      std::optional<SqlError> error;
      bool server_timeout = false;
      bool deadline_passed = false;
      // Before the caller's statements: the per-transaction timeout, then the guard.
      const std::size_t extra = (timeout_first ? 1 : 0) + (seg.guard ? 1 : 0);
      std::size_t next = 0;
      for (;;) {
        PGresult* raw = co_await next_in_pipeline();
        Result res(raw);
        const ExecStatusType status = PQresultStatus(raw);
        if (status == PGRES_PIPELINE_SYNC) break;
        if (next >= seg.queries.size() + extra) fail("unexpected pipeline result");
        const std::size_t n = next++;
        if (n < extra) {  // the local timeout or the deadline guard
          if (status == PGRES_FATAL_ERROR) {
            if (connection_level(raw, conn_)) throw rejected(raw);
            if (sqlstate::is_deadline_passed(field(raw, PG_DIAG_SQLSTATE))) {
              deadline_passed = true;
            } else if (!error) {
              error = make_sql_error(
                  raw, timeout_first && n == 0 ? kLocalTimeout.name : kDeadlineGuard.name);
            }
          } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK &&
                     status != PGRES_PIPELINE_ABORTED) {
            fail(std::string("unexpected result status ") + PQresStatus(status));
          }
          continue;
        }
        const std::size_t i = n - extra;
        const Statement& st = *seg.queries[i].statement;
        switch (status) {
          case PGRES_COMMAND_OK:
          case PGRES_TUPLES_OK:
            seg.results[i] = std::move(res);
            record(k, i, true);
            break;
          case PGRES_PIPELINE_ABORTED:  // an earlier statement of the segment failed
            record(k, i, false);
            break;
          case PGRES_FATAL_ERROR: {
            if (connection_level(raw, conn_)) throw rejected(raw);
            if (sqlstate::is_query_canceled(field(raw, PG_DIAG_SQLSTATE))) server_timeout = true;
            if (!error) {
              const auto pe = std::find_if(prepare_errors.begin(), prepare_errors.end(),
                                           [&](const auto& e) { return e.first == st.name; });
              error = pe != prepare_errors.end() ? pe->second : make_sql_error(raw, st.name);
            }
            record(k, i, false);
            break;
          }
          default:
            fail(std::string("unexpected result status ") + PQresStatus(status));
        }
      }
      if (next != seg.queries.size() + extra) fail("missing pipeline results");
      const RequestContext* ctx = seg.instr.ctx;
      if (deadline_passed) {
        // The server reached this caller's transaction only after its deadline: rolled back.
        seg.error =
            std::make_exception_ptr(Error(ErrorCode::deadline_exceeded, "request deadline exceeded",
                                          "rolled back by the deadline guard"));
      } else if (server_timeout) {
        // The server cancelled a statement at statement_timeout (= operation timeout): the
        // transaction rolled back; the connection is not reused.
        discard_ = true;
        log_.warn("postgres statement timeout", {{"pool", pool_name_},
                                                 {"statement", error ? error->statement : ""},
                                                 {"request_id", ctx ? ctx->request_id : ""},
                                                 {"trace_id", ctx ? ctx->trace_id : ""},
                                                 {"span_id", ctx ? ctx->span_id : ""}});
        seg.error = std::make_exception_ptr(
            unavailable("statement timeout: " + std::string(error ? error->what() : "")));
      } else if (error) {
        if (sqlstate::is_invalid_statement_name(error->sqlstate) &&
            prepared_.erase(error->statement) > 0 && prepared_total_) {  // defensive
          --*prepared_total_;
        }
        log_.debug("postgres statement rejected", {{"pool", pool_name_},
                                                   {"statement", error->statement},
                                                   {"sqlstate", error->sqlstate},
                                                   {"error", error->what()},
                                                   {"request_id", ctx ? ctx->request_id : ""},
                                                   {"trace_id", ctx ? ctx->trace_id : ""},
                                                   {"span_id", ctx ? ctx->span_id : ""}});
        seg.error = std::make_exception_ptr(*error);
      }
      finish(k);
    }
  } catch (const Error& e) {
    // The connection failed (timeout, loss, server shutdown) while segment `finished` was being
    // read. Segments already read keep their outcome; for the rest, say what is known.
    for (std::size_t k = finished; k < segments.size(); ++k) {
      Segment& seg = segments[k];
      const RequestContext* ctx = seg.instr.ctx;
      const bool own_deadline = k == finished && e.code() == ErrorCode::deadline_exceeded;
      // Sent, neither confirmed nor rejected: a write may have committed.
      const bool in_doubt = !own_deadline && sent && !server_ended && seg.writes();
      log_.warn(in_doubt ? "postgres write outcome unknown" : "postgres query failed",
                {{"pool", pool_name_},
                 {"statement", seg.queries.empty() ? "" : seg.queries[0].statement->name},
                 {"error", e.detail().empty() ? e.message() : e.detail()},
                 {"request_id", ctx ? ctx->request_id : ""},
                 {"trace_id", ctx ? ctx->trace_id : ""},
                 {"span_id", ctx ? ctx->span_id : ""}});
      if (own_deadline) {
        seg.error = std::make_exception_ptr(e);  // the single caller's own deadline
      } else if (in_doubt) {
        seg.error = std::make_exception_ptr(outcome_unknown(e.detail()));
      } else {
        seg.error = std::make_exception_ptr(
            e.code() == ErrorCode::deadline_exceeded ? unavailable(e.detail()) : e);
      }
      finish(k);
    }
    co_return;
  }
  completed = true;
}

asio::awaitable<void> Connection::expect_sync() {
  PGresult* raw = co_await next_in_pipeline();
  Result res(raw);
  if (PQresultStatus(raw) != PGRES_PIPELINE_SYNC) fail("unexpected pipeline result");
}

asio::awaitable<std::vector<Result>> Connection::execute(std::string sql, OpLimit limit,
                                                         const Params* params) {
  auto self = shared_from_this();
  if (!conn_) throw unavailable("connection closed");
  if (busy_) throw std::logic_error("postgres connection used by two operations at once");
  begin_op(limit);
  bool completed = false;
  ScopeExit guard([&] {
    if (completed) {
      end_op();
    } else {
      close("script failed");
    }
  });
  // Scripts may change session state (SET, locks): never hand this connection out again.
  discard_ = true;
  std::vector<Result> out;
  std::optional<SqlError> error;
  try {
    // Multi-statement text needs the simple-query protocol, which pipeline mode forbids.
    if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn_) != 1) {
      fail("PQexitPipelineMode");
    }
    if (params != nullptr && params->size() > 0) {
      std::vector<const char*> values;
      values.reserve(params->size());
      for (const Param& p : *params) values.push_back(p ? p->c_str() : nullptr);
      if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0) == 0) {
        fail("send");
      }
    } else if (PQsendQuery(conn_, sql.c_str()) == 0) {
      fail("send");
    }
    co_await flush();
    for (;;) {
      PGresult* raw = co_await next_result();
      if (raw == nullptr) break;
      Result res(raw);
      const ExecStatusType st = PQresultStatus(raw);
      switch (st) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
          out.push_back(std::move(res));
          break;
        case PGRES_FATAL_ERROR:
          if (connection_level(raw, conn_)) fail("script");
          if (!error) error = make_sql_error(raw, "");
          break;
        default:
          fail(std::string("unsupported result status in script: ") + PQresStatus(st));
      }
    }
    check_socket();
    if (PQenterPipelineMode(conn_) != 1) fail("PQenterPipelineMode");
  } catch (const Error& e) {
    log_.warn("postgres script failed", {{"pool", pool_name_}, {"error", e.detail()}});
    throw;
  }
  completed = true;
  if (error) throw *error;
  co_return out;
}

bool Connection::alive() {
  if (!conn_ || busy_ || PQstatus(conn_) == CONNECTION_BAD || PQsocket(conn_) != fd_) {
    return false;
  }
  // Nothing should arrive on an idle connection: readable means the server closed it (its
  // shutdown notice or EOF is waiting), so it is not worth a failed request to find out.
  // Under saturation released connections go straight to waiting callers, so this poll is
  // paid only when the pool has spare connections (and spare CPU).
  return !ready_now(fd_, POLLIN);
}

bool Connection::reusable() const {
  return conn_ != nullptr && !busy_ && !discard_ && PQstatus(conn_) == CONNECTION_OK &&
         PQtransactionStatus(conn_) == PQTRANS_IDLE && PQpipelineStatus(conn_) == PQ_PIPELINE_ON;
}

void Connection::close(std::string_view reason) noexcept {
  ++op_seq_;
  try {
    timer_.cancel();
  } catch (...) {  // cannot fail on a valid timer; keep close() noexcept
  }
  busy_ = false;
  if (conn_ == nullptr) return;
  // Out of the reactor first (release, not close): PQfinish closes the socket itself.
  if (socket_) {
    socket_->release();
    socket_.reset();
  }
  const int pid = PQbackendPID(conn_);
  PQfinish(conn_);
  if (prepared_total_) *prepared_total_ -= static_cast<std::int64_t>(prepared_.size());
  prepared_.clear();
  conn_ = nullptr;
  fd_ = -1;
  log_.debug("postgres connection closed",
             {{"pool", pool_name_}, {"backend_pid", pid}, {"reason", reason}});
}

}  // namespace userservice::postgres::detail
