#include "adapters/postgres/blocking_session.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "adapters/postgres/libpq_text.h"
#include "adapters/postgres/sqlstate.h"

namespace userservice::postgres {

namespace {

using Clock = BlockingSession::Clock;
using WaitOutcome = BlockingSession::WaitOutcome;

using detail::field;
using detail::trimmed;

// The default waiter: poll(2) on the socket alone.
WaitOutcome poll_until(int fd, short events, Clock::time_point until) {
  while (true) {
    const auto now = Clock::now();
    if (now >= until) return WaitOutcome::timeout;
    pollfd p{fd, events, 0};
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, 60'000)));
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (rc > 0) return WaitOutcome::ready;
  }
}

}  // namespace

BlockingSession::BlockingSession(pg_conn* conn, Waiter waiter)
    : conn_(conn), waiter_(std::move(waiter)), last_use_(Clock::now()) {}

BlockingSession::BlockingSession(BlockingSession&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      waiter_(std::move(other.waiter_)),
      last_use_(other.last_use_) {}

BlockingSession& BlockingSession::operator=(BlockingSession&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::exchange(other.conn_, nullptr);
    waiter_ = std::move(other.waiter_);
    last_use_ = other.last_use_;
  }
  return *this;
}

BlockingSession::~BlockingSession() { close(); }

void BlockingSession::close() noexcept {
  if (conn_ != nullptr) PQfinish(conn_);  // also releases the session's advisory locks
  conn_ = nullptr;
}

WaitOutcome BlockingSession::wait(int fd, short events, Clock::time_point until,
                                  bool interruptible) const {
  if (waiter_) return waiter_(fd, events, until, interruptible);
  return poll_until(fd, events, until);
}

BlockingSession BlockingSession::connect(const std::string& dsn, std::string_view application_name,
                                         Clock::time_point deadline, Waiter waiter) {
  // The DSN is expanded in place of dbname; the later application_name overrides its own, so
  // the session is easy to find in pg_stat_activity and pg_locks.
  const std::string app(application_name);
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {dsn.c_str(), app.c_str(), nullptr};
  PGconn* conn = PQconnectStartParams(keys, values, 1);
  if (conn == nullptr) throw SessionFailure("PQconnectStartParams: out of memory");
  BlockingSession session(conn, std::move(waiter));
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    const short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    const WaitOutcome w = session.wait(PQsocket(conn), events, deadline, true);
    if (w != WaitOutcome::ready) {
      throw SessionFailure(w == WaitOutcome::stopped ? "stopping" : "connect timed out");
    }
    st = PQconnectPoll(conn);
  }
  if (PQstatus(conn) != CONNECTION_OK)
    throw SessionFailure("connect: " + trimmed(PQerrorMessage(conn)));
  if (PQsetnonblocking(conn, 1) != 0) throw SessionFailure("PQsetnonblocking failed");
  session.last_use_ = Clock::now();
  return session;
}

Result BlockingSession::execute(const Statement& statement, const Params& params,
                                Clock::time_point deadline) {
  if (conn_ == nullptr) throw SessionFailure("not connected");
  const std::string text(statement.sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                        values.data(), nullptr, nullptr, 0) != 1) {
    throw SessionFailure("send: " + trimmed(PQerrorMessage(conn_)));
  }
  // Statements run to completion, bounded by `deadline` (and the waiter's own stop deadline).
  while (true) {
    const int f = PQflush(conn_);
    if (f < 0) throw SessionFailure("send: " + trimmed(PQerrorMessage(conn_)));
    if (f == 0) break;
    if (wait(PQsocket(conn_), POLLOUT | POLLIN, deadline, false) != WaitOutcome::ready) {
      throw SessionFailure("statement timed out");
    }
    if (PQconsumeInput(conn_) != 1) {
      throw SessionFailure("receive: " + trimmed(PQerrorMessage(conn_)));
    }
  }
  Result first;
  bool have_first = false;
  std::optional<SqlError> rejected;
  while (true) {
    // PQconsumeInput may have buffered everything already: only wait while libpq is busy,
    // never on a socket with nothing more to come.
    while (PQisBusy(conn_)) {
      if (wait(PQsocket(conn_), POLLIN, deadline, false) != WaitOutcome::ready) {
        throw SessionFailure("statement timed out");
      }
      if (PQconsumeInput(conn_) != 1) {
        throw SessionFailure("receive: " + trimmed(PQerrorMessage(conn_)));
      }
    }
    Result r(PQgetResult(conn_));
    if (!r) break;
    const ExecStatusType status = PQresultStatus(r.raw());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !rejected) {
      std::string message = trimmed(PQresultErrorMessage(r.raw()));
      if (message.empty()) message = "statement failed";
      rejected.emplace(message, field(r.raw(), PG_DIAG_SQLSTATE),
                       field(r.raw(), PG_DIAG_CONSTRAINT_NAME), std::string(statement.name),
                       field(r.raw(), PG_DIAG_MESSAGE_DETAIL));
    }
    if (!have_first) {
      first = std::move(r);
      have_first = true;
    }
  }
  last_use_ = Clock::now();
  if (rejected) {
    // An error with the session gone (a FATAL, the server's idle timeout) is a session
    // failure; otherwise only this statement failed.
    if (PQstatus(conn_) != CONNECTION_OK) throw SessionFailure(rejected->what());
    throw *rejected;
  }
  return first;
}

}  // namespace userservice::postgres
