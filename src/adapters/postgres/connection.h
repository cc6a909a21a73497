#pragma once
// One libpq connection in nonblocking pipeline mode, driven by Asio. Internal to the postgres
// adapter (included by pool.cpp and connection.cpp only): it pulls in libpq and Asio's
// descriptor machinery.
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libpq-fe.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/postgres/pool.h"
#include "common/context.h"

namespace userservice::telemetry {
class Logger;
class Metrics;
class Tracer;
}  // namespace userservice::telemetry

namespace userservice::postgres::detail {

// Where one operation reports its statements: duration metrics, and client spans under the
// request's server span when `ctx` is set and the tracer records it. Any member may be null.
struct Instrumentation {
  telemetry::Metrics* metrics = nullptr;
  const telemetry::Tracer* tracer = nullptr;
  const RequestContext* ctx = nullptr;
  std::string_view pool_name;
  // A coalesced read serves several callers: each of these gets the same client span too.
  std::span<const RequestContext* const> also;
};

// When one operation must end, and which error its expiry means: the request deadline
// (deadline_exceeded) or the operation timeout (service_unavailable).
struct OpLimit {
  Clock::time_point at;
  bool request_deadline = true;
};

// Keyword/value pairs for PQconnectStartParams, computed once per pool from the DSN.
struct ConnectParams {
  std::vector<std::string> keywords;
  std::vector<std::string> values;
  // The DSN's connect_timeout (libpq only enforces it for blocking connects, so we do);
  // zero when absent.
  std::chrono::nanoseconds connect_timeout{0};
  // Set once right after connecting, before pipeline mode: the session's statement_timeout
  // (milliseconds, empty for none; sql::kUserserviceSessionTimeout). A statement rather than
  // the startup packet's `options`, which PgBouncer refuses ("unsupported startup parameter:
  // options"), so that a session-mode pooler works as is.
  std::string session_timeout_ms;
  // Behind a transaction-mode pooler (PoolOptions::transaction_pooling): every statement
  // unnamed, and the statement_timeout (milliseconds, empty for none) set per transaction.
  bool transaction_pooling = false;
  std::string local_timeout_ms;
};

// Parses `dsn` (URI or keyword string) and adds the pool's settings: the statement_timeout
// (per session, or per transaction behind a transaction pooler) and a fallback
// application_name. Throws std::invalid_argument with libpq's message when the DSN is
// malformed.
ConnectParams make_connect_params(const std::string& dsn,
                                  std::chrono::nanoseconds statement_timeout,
                                  bool transaction_pooling = false);

// How long one segment of a run may take once its turn comes (the previous segment's Sync
// was read, or the pipeline was sent): `operation_timeout` for a read, twice that for a write
// (the server's statement_timeout, equal to operation_timeout, normally answers first with a
// definite rollback). A single caller's deadline also ends its wait; in a batch each caller
// stops waiting on its own and the batch reads on.
struct Budget {
  std::chrono::nanoseconds operation_timeout{0};  // <= 0: none
  bool caller_deadline = true;
};

// One caller's statements inside a run: its own implicit transaction (its own Sync), results
// and error.
struct Segment {
  std::span<const Query> queries;
  Instrumentation instr;
  Clock::time_point deadline = Clock::time_point::max();  // the caller's
  // Queued behind other segments: run the deadline guard first, so that a segment the server
  // only reaches after its caller's deadline rolls back instead of committing unseen.
  bool guard = false;
  // Its Sync can commit a change. False inside an explicit transaction before COMMIT: a
  // failure there is a rollback, never a write in doubt.
  bool commits = true;
  // Prepared (if new) with the other statements but not executed: what an explicit
  // transaction may need after a failure, when the server refuses to parse anything but
  // ROLLBACK.
  std::span<const Statement* const> prepare_also;
  std::vector<Result>
      results;               // one per query; those that ran are set even when a later one failed
  std::exception_ptr error;  // SqlError or domain::Error of this segment only
  // Called once, as soon as the segment's outcome is final: its Sync was read, or the
  // connection failed before that.
  std::function<void()> on_done;

  bool writes() const noexcept {
    if (!commits) return false;
    for (const Query& q : queries) {
      if (q.statement != nullptr && q.statement->access == Access::write) return true;
    }
    return false;
  }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Private;  // constructor key: use open()

  Connection(Private, boost::asio::any_io_executor ex, PGconn* conn, telemetry::Logger& log,
             std::string pool_name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (PQconnectStartParams/PQconnectPoll) and enters pipeline mode.
  // `prepared_total`, when given, counts the statements this connection holds prepared (up
  // on each PREPARE, down by all of them on close), summed over a pool's connections.
  // Throws domain::Error(service_unavailable | deadline_exceeded).
  static boost::asio::awaitable<std::shared_ptr<Connection>> open(
      boost::asio::any_io_executor ex, const ConnectParams& params, OpLimit limit,
      telemetry::Logger& log, std::string pool_name,
      std::shared_ptr<std::int64_t> prepared_total = nullptr);

  // Sends every query (preparing statements this connection has not seen yet) plus one
  // PQpipelineSync, then reads all results, bounded by `deadline` and the budget. Throws
  // SqlError for a server-rejected statement (connection stays usable), domain::Error for
  // timeouts and connection failures (see pool.h for which code means what), and
  // system_error(operation_aborted) when cancelled; after the latter two the connection is
  // closed.
  boost::asio::awaitable<std::vector<Result>> run(std::span<const Query> queries,
                                                  Clock::time_point deadline, Budget budget,
                                                  Instrumentation instr);

  // Several callers' statements in one round trip: each segment followed by its own Sync, so
  // each is its own implicit transaction and an error in one leaves the others alone. Every
  // outcome lands in its Segment (error or results) the moment it is known, so a segment
  // whose Sync was read keeps its own result whatever happens to later ones. A failure of
  // the connection closes it and fails only the segments not read yet. Throws only for
  // programming errors and (single caller) cancellation.
  boost::asio::awaitable<void> run_batch(std::span<Segment> segments, Budget budget);

  // Simple-query protocol outside pipeline mode; marks the connection discard-on-release.
  // With non-empty `params`: one statement, unnamed, extended protocol.
  boost::asio::awaitable<std::vector<Result>> execute(std::string sql, OpLimit limit,
                                                      const Params* params = nullptr);

  // Cheap check of an idle connection before reuse: notices a server that closed it.
  bool alive();
  // Open, idle, outside any transaction, and not marked for discarding.
  bool reusable() const;
  bool busy() const noexcept { return busy_; }
  bool closed() const noexcept { return conn_ == nullptr; }
  Clock::time_point created_at() const noexcept { return created_at_; }
  int backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_) : 0; }
  void close(std::string_view reason) noexcept;

 private:
  enum class Wait { read, write };

  boost::asio::awaitable<void> connect(OpLimit limit, std::string_view session_timeout_ms);
  bool local_timeout() const noexcept { return transaction_pooling_ && !local_timeout_ms_.empty(); }
  boost::asio::awaitable<void> wait(Wait kind);
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<PGresult*> next_result();
  boost::asio::awaitable<PGresult*> next_in_pipeline();
  boost::asio::awaitable<void> expect_sync();
  void begin_op(OpLimit limit);
  void set_limit(OpLimit limit);
  void end_op() noexcept;
  void check_socket();
  [[noreturn]] void fail(std::string_view what);
  static void on_notice(void* self, const char* message);

  boost::asio::any_io_executor ex_;
  PGconn* conn_;
  telemetry::Logger& log_;
  std::string pool_name_;
  Clock::time_point created_at_ = Clock::now();
  // The libpq socket, registered with Asio's reactor. release()d, never closed: libpq owns it.
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  int fd_ = -1;
  boost::asio::steady_timer timer_;
  OpLimit limit_;
  std::uint64_t op_seq_ = 0;
  bool timed_out_ = false;
  // Set when a pipeline is sent, cleared by the next wait: that wait skips the readiness
  // probe (see wait()).
  bool fresh_send_ = false;
  bool busy_ = false;
  bool discard_ = false;
  // Statements prepared on this connection: name -> SQL (to catch two statements sharing a
  // name).
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::string, NameHash, std::equal_to<>> prepared_;
  std::shared_ptr<std::int64_t> prepared_total_;
  // From ConnectParams: no named statements, and the statement_timeout set inside each
  // segment's transaction, because a transaction pooler hands the next transaction to any
  // server session.
  bool transaction_pooling_ = false;
  std::string local_timeout_ms_;
};

}  // namespace userservice::postgres::detail
