#pragma once
// One PostgreSQL session for a thread of its own (the outbox relay's), off the event loop:
// libpq in non-blocking mode, every wait bounded by a deadline and handed to a `Waiter`, so
// the owner can also cut a wait short (its stop signal). Statements are the generated
// `Statement` constants, sent unnamed (never prepared) with text parameters; rows come back
// as the adapter's `Result` with its typed accessors, and a rejected statement as `SqlError`
// (SQLSTATE, constraint), as from the pool.
//
//   BlockingSession s = BlockingSession::connect(dsn, "my-app", deadline, waiter);
//   Result r = s.execute(sql::kOutboxRelayTryLeader, {key}, Clock::now() + timeout);
//   bool leader = r.boolean(0, 0);
//
// Closing the session (close() or destruction) ends it on the server, which releases its
// session advisory locks.
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "adapters/postgres/pool.h"

struct pg_conn;  // libpq's PGconn, kept opaque here

namespace userservice::postgres {

// The session is gone or in an unknown state (connect failed or timed out, I/O error, a
// statement not answered in time, an error that ended the session): close it and reconnect.
struct SessionFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class BlockingSession {
 public:
  using Clock = std::chrono::steady_clock;

  enum class WaitOutcome { ready, timeout, stopped };
  // Waits until `fd` is ready for `events` (poll(2) flags) or `until`. `interruptible`: the
  // owner may answer `stopped` early (connecting); statements are not interruptible, so that
  // they run to completion within their deadline. The owner may also answer `stopped` for a
  // wait past its own stop deadline. The default waiter polls `fd` alone.
  using Waiter =
      std::function<WaitOutcome(int fd, short events, Clock::time_point until, bool interruptible)>;

  BlockingSession() = default;
  BlockingSession(BlockingSession&& other) noexcept;
  BlockingSession& operator=(BlockingSession&& other) noexcept;
  BlockingSession(const BlockingSession&) = delete;
  BlockingSession& operator=(const BlockingSession&) = delete;
  ~BlockingSession();  // close()

  // Connects to `dsn` (URI or keyword string; its own application_name is overridden by
  // `application_name`) by `deadline`. Throws SessionFailure ("connect timed out", "stopping"
  // when the waiter answered stopped, "connect: <libpq's reason>").
  static BlockingSession connect(const std::string& dsn, std::string_view application_name,
                                 Clock::time_point deadline, Waiter waiter = {});

  // Runs one statement (unnamed, text parameters) to completion by `deadline`. Throws
  // SqlError when the server rejected it and the session is fine (the statement's name in
  // SqlError::statement), SessionFailure otherwise.
  Result execute(const Statement& statement, const Params& params, Clock::time_point deadline);

  // Ends the session (and with it its advisory locks). Idempotent.
  void close() noexcept;
  bool open() const noexcept { return conn_ != nullptr; }
  // When a statement last completed (or the session connected).
  Clock::time_point last_use() const noexcept { return last_use_; }

 private:
  BlockingSession(pg_conn* conn, Waiter waiter);
  WaitOutcome wait(int fd, short events, Clock::time_point until, bool interruptible) const;

  pg_conn* conn_ = nullptr;
  Waiter waiter_;
  Clock::time_point last_use_{};
};

}  // namespace userservice::postgres
