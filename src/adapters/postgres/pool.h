#pragma once
// Asynchronous PostgreSQL access: a connection pool over libpq in nonblocking pipeline mode,
// driven by the process's single io_context. Beast-free and libpq-free on purpose: store code
// includes this header, the libpq/Asio plumbing lives in connection.h and the .cpp files.
//
//   // sql::kAccountStateById: generated from sql/user_store/account_state_by_id.sql
//   Result r = co_await pool.query(sql::kAccountStateById, {user_id}, ctx.deadline);
//   std::string email = r.text(0, 1);
//
// Errors say whether a write may have happened (docs/architecture.md, "What an error says
// about a write"):
// - domain::Error(service_unavailable): nothing was committed — the database could not be
//   reached, the pool stayed exhausted until the deadline, or the server rolled the
//   transaction back (statement timeout, shutdown). Reads also get it when the database
//   stops answering within `operation_timeout`.
// - domain::Error(deadline_exceeded): the outcome is unknown — the request deadline passed
//   while statements were in flight, or a statement that writes (Statement::access) was sent
//   and the database never confirmed or rejected it.
// - SqlError: the server rejected a statement (the transaction rolled back; the connection
//   stays usable).
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/context.h"

struct pg_result;  // libpq's PGresult, kept opaque here

namespace userservice::telemetry {
class Logger;
class Metrics;
class Tracer;
}  // namespace userservice::telemetry

namespace userservice::postgres {

// Whether a statement changes data. A write whose outcome the pool cannot learn (sent, then
// the connection broke or went silent) is answered deadline_exceeded ("may have happened"),
// a read in the same situation service_unavailable.
enum class Access { read, write };

// A named SQL statement, prepared once per connection under `name` on first use. The service's
// are generated from src/adapters/postgres/sql/ (its README); the name is also the metric label.
struct Statement {
  std::string_view name;
  std::string_view sql;
  Access access = Access::read;
  // Sent as an unnamed statement on every execution instead of prepared once per connection:
  // for SQL generated in many shapes (the admin listing's filter combinations), whose
  // prepared copies on every pooled connection would otherwise grow without bound.
  bool one_shot = false;
  // Read coalescing (PoolOptions::coalesce_reads): the set form of a read with one key
  // parameter. Run with `$1::text[]` of distinct keys, it returns the rows this statement
  // would return for each key, with the same columns in the same order, plus (anywhere) a
  // column holding the key as given: column `coalesced_key`. Each caller then gets the rows
  // whose key column equals its own key.
  const Statement* coalesced = nullptr;
  int coalesced_key = -1;
  // False for a utility or transaction command (BEGIN, COMMIT, SET, a DDL script): the
  // protocol's Parse takes some of them, SQL PREPARE none (`-- prepare: no` in its .sql file;
  // PrintStatements skips exactly these). Nothing at run time depends on it. (Last, so that
  // positional initialisers of the fields above keep working.)
  bool preparable = true;
};

// A text-format parameter; nullopt is SQL NULL.
using Param = std::optional<std::string>;

// The parameters of one statement: `{id, std::nullopt, "x"}` or a std::vector<Param>.
// A class with a variadic constructor, not std::vector<Param>, because g++ 12 rejects a braced
// vector inside a co_await expression ("array used as initializer"), and
// `co_await pool.query(kStmt, {id}, deadline)` is the natural call.
class Params {
 public:
  Params() = default;
  Params(std::vector<Param> values) : values_(std::move(values)) {}  // implicit on purpose
  template <typename... Args>
    requires(sizeof...(Args) > 0 && (std::constructible_from<Param, Args&&> && ...))
  Params(Args&&... args) {  // implicit on purpose: enables {a, b}
    values_.reserve(sizeof...(Args));
    (values_.emplace_back(std::forward<Args>(args)), ...);
  }
  void push_back(Param p) { values_.push_back(std::move(p)); }
  std::size_t size() const noexcept { return values_.size(); }
  auto begin() const noexcept { return values_.begin(); }
  auto end() const noexcept { return values_.end(); }
  const std::vector<Param>& values() const noexcept { return values_; }

 private:
  std::vector<Param> values_;
};

struct Query {
  const Statement* statement;
  Params params;
};

// Move-only owner of one statement's result (text format).
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* res) noexcept : res_(res) {}
  Result(Result&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result();

  int rows() const;
  int columns() const;
  bool is_null(int row, int col) const;
  std::string_view get(int row, int col) const;  // text value, "" for NULL
  std::optional<std::string_view> get_opt(int row, int col) const;
  int affected_rows() const;  // from PQcmdTuples; 0 when the command reports no count

  // Typed reads of one value. Each checks the column's type (PQftype) and NULL, and throws
  // std::logic_error naming the statement's column on a mismatch: an internal error (500),
  // never a guess. The opt_ forms answer nullopt for NULL; the others refuse it.
  std::string text(int row, int col) const;  // any type, as its text form
  std::optional<std::string> opt_text(int row, int col) const;
  bool boolean(int row, int col) const;        // boolean
  std::int64_t int64(int row, int col) const;  // smallint, integer or bigint
  std::optional<std::int64_t> opt_int64(int row, int col) const;
  double float64(int row, int col) const;  // real, double precision or numeric; also
                                           // Infinity, -Infinity and NaN
  explicit operator bool() const noexcept { return res_ != nullptr; }  // false: no result
  int column(std::string_view name) const;                // column index by name, -1 when absent
  const pg_result* raw() const noexcept { return res_; }  // for the adapter's own use

 private:
  pg_result* res_ = nullptr;
};

// A statement the server rejected (constraint violation, syntax error, ...). Store code
// translates it; the message is server text and must not reach clients.
struct SqlError : std::runtime_error {
  SqlError(const std::string& message, std::string sqlstate, std::string constraint,
           std::string statement, std::string detail)
      : std::runtime_error(message),
        sqlstate(std::move(sqlstate)),
        constraint(std::move(constraint)),
        statement(std::move(statement)),
        detail(std::move(detail)) {}
  std::string sqlstate;    // five characters, e.g. "23505"
  std::string constraint;  // PG_DIAG_CONSTRAINT_NAME, empty when none
  std::string statement;   // Statement::name that failed, empty for scripts
  std::string detail;      // PG_DIAG_MESSAGE_DETAIL, empty when none
};

// What a SqlError is, by name, for store code (the SQLSTATE codes live in result.cpp).
// A unique or primary key violation (23505) of `constraint`.
bool is_unique_violation(const SqlError& e, std::string_view constraint);

// PostgreSQL array literals for array parameters ($n::text[], $n::bigint[]). Text items are
// quoted (and '"', '\' escaped), so that an item spelled NULL stays a string; NULL elements
// pad the array to `min_elements`.
std::string text_array(std::span<const std::string> items, std::size_t min_elements = 0);
std::string text_array(std::span<const std::string_view> items, std::size_t min_elements = 0);
std::string bigint_array(std::span<const std::int64_t> items);

struct PoolOptions {
  std::string dsn;  // libpq URI or keyword/value string
  int max_open = 20;
  // Idle connections kept after a burst. Releasing never closes a connection: a surplus above
  // max_idle is closed once it has sat idle for `idle_surplus_grace`, least recently used
  // first, so bursty load reuses warm connections instead of reconnecting and re-preparing.
  int max_idle = 20;
  std::chrono::nanoseconds max_lifetime = std::chrono::minutes(30);  // <= 0: unlimited
  // An idle connection is closed once it has been idle this long (<= 0: never).
  std::chrono::nanoseconds max_idle_time = std::chrono::nanoseconds::zero();
  // Bound on one operation (connect or one round trip); also the server's statement_timeout.
  // <= 0: only the caller's deadline applies.
  std::chrono::nanoseconds operation_timeout = std::chrono::seconds(1);
  std::string name = "primary";  // for logs
  // How long a connection above max_idle may stay idle before it is closed.
  std::chrono::nanoseconds idle_surplus_grace = std::chrono::seconds(10);
  // With every connection busy, the queued query()/pipeline() callers at the front of the
  // queue (up to this many) share the next free connection's round trip, each in its own
  // implicit transaction. 1 turns batching off.
  int max_batch = 16;
  // With every connection busy, queued single-statement reads of one kind (a Statement with a
  // `coalesced` form and one non-null parameter) are folded into one execution of the set
  // form, up to `max_coalesce` callers, each answered with its own rows (docs/architecture.md,
  // "Read coalescing"). Below saturation nothing changes: a caller with a free connection runs
  // alone.
  bool coalesce_reads = true;
  int max_coalesce = 64;
  // Batched writes queued behind another caller's transaction first call
  // "user".deadline_guard (migrations/0005), so that one the server reaches after its caller's
  // deadline rolls back instead of committing unseen. Needs the migrated schema.
  bool deadline_guard = false;
  // The DSN leads to a transaction-mode pooler (PgBouncer pool_mode=transaction): statements
  // are sent unnamed instead of prepared per connection, the statement_timeout is set in
  // each transaction instead of the session, and batching is off (max_batch 1), since the
  // pooler may give the server session to another client at each transaction's end. No
  // session state may be relied on: Lease::execute scripts (migrations, advisory locks)
  // belong on a direct DSN.
  bool transaction_pooling = false;
};

struct PoolStats {
  int idle = 0;
  int in_use = 0;  // handed out or being opened
  int max_open = 0;
  std::uint64_t wait_count = 0;
  double wait_seconds_total = 0;
  std::uint64_t closed_max_idle = 0;
  std::uint64_t closed_max_idle_time = 0;
  std::uint64_t closed_max_lifetime = 0;
  std::uint64_t batches = 0;             // round trips that carried several callers
  std::uint64_t batched_calls = 0;       // callers served by those
  std::uint64_t coalesced = 0;           // executions of a coalesced (set-form) read
  std::uint64_t coalesced_calls = 0;     // callers served by those
  std::int64_t prepared_statements = 0;  // held prepared across the open connections
};

namespace detail {
class Connection;
struct PoolState;
struct Segment;
}  // namespace detail

class Pool;

// Exclusive use of one connection, e.g. for an interactive transaction. Destruction (or
// release()) returns the connection; one left inside a transaction, broken, or used for
// scripts is closed instead of reused. One operation at a time.
class Lease {
 public:
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  boost::asio::awaitable<Result> query(const Statement& s, Params params,
                                       Clock::time_point deadline);
  boost::asio::awaitable<std::vector<Result>> pipeline(std::vector<Query> queries,
                                                       Clock::time_point deadline);
  // As above, bounded by ctx.deadline and traced as children of the request's span.
  boost::asio::awaitable<Result> query(const Statement& s, Params params,
                                       const RequestContext& ctx);
  boost::asio::awaitable<std::vector<Result>> pipeline(std::vector<Query> queries,
                                                       const RequestContext& ctx);
  // Runs `sql` (one or more ';'-separated statements, no parameters) with the simple-query
  // protocol, outside pipeline mode, bounded only by `deadline` (not operation_timeout).
  // One Result per statement. Meant for migrations: the connection is closed on release.
  boost::asio::awaitable<std::vector<Result>> execute(std::string sql, Clock::time_point deadline);
  // As above for one statement of src/adapters/postgres/sql/: sent unnamed with `params` (a
  // parameterless statement goes as a simple query, so it may be a script of several, e.g.
  // `-- prepare: no` DDL); its first result (an empty Result when it returned none).
  boost::asio::awaitable<Result> execute(const Statement& s, Params params,
                                         Clock::time_point deadline);
  // Server process id of the connection (for tests and logs); 0 when closed.
  int backend_pid() const;
  void release() noexcept;

 private:
  friend struct detail::PoolState;
  friend class Pool;
  friend class ::userservice::DbTransaction;
  Lease(std::shared_ptr<detail::PoolState> pool, std::shared_ptr<detail::Connection> conn);
  // One segment on this connection, bounded by its deadline and the operation timeout.
  boost::asio::awaitable<void> run_segment(detail::Segment& segment);
  boost::asio::awaitable<std::vector<Result>> run(std::vector<Query> queries,
                                                  Clock::time_point deadline,
                                                  const RequestContext* ctx);
  std::shared_ptr<detail::PoolState> pool_;
  std::shared_ptr<detail::Connection> conn_;
};

class Pool {
 public:
  // Throws std::invalid_argument when the DSN cannot be parsed. Connects lazily.
  Pool(boost::asio::any_io_executor ex, PoolOptions opts, telemetry::Logger& log,
       telemetry::Metrics* metrics);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Gets a connection (opening one if none is idle) and runs SELECT 1.
  // Throws domain::Error(service_unavailable, "database unavailable", detail) on any failure.
  boost::asio::awaitable<void> ping(Clock::time_point deadline);
  boost::asio::awaitable<Result> query(const Statement& s, Params params,
                                       Clock::time_point deadline);
  // All queries in one round trip and one implicit transaction; one Result per query.
  boost::asio::awaitable<std::vector<Result>> pipeline(std::vector<Query> queries,
                                                       Clock::time_point deadline);
  // As above, bounded by ctx.deadline; each statement is a client span under the request's
  // server span (see set_tracer).
  boost::asio::awaitable<Result> query(const Statement& s, Params params,
                                       const RequestContext& ctx);
  boost::asio::awaitable<std::vector<Result>> pipeline(std::vector<Query> queries,
                                                       const RequestContext& ctx);
  boost::asio::awaitable<Lease> acquire(Clock::time_point deadline);
  // Statements of a request whose RequestContext::transaction belongs to this pool run inside
  // that transaction (DbTransaction below) instead.
  // Closes idle connections now and in-use ones when released; later calls fail with
  // service_unavailable.
  void close();
  PoolStats stats() const;
  const PoolOptions& options() const;
  // Spans for statements run with a RequestContext; null (the default) records none. Set
  // before the first query; the tracer must outlive the pool.
  void set_tracer(const telemetry::Tracer* tracer);

 private:
  boost::asio::awaitable<std::vector<Result>> run(std::vector<Query> queries,
                                                  Clock::time_point deadline,
                                                  const RequestContext* ctx);
  std::shared_ptr<detail::PoolState> state_;
};

}  // namespace userservice::postgres

namespace userservice {

// RequestContext::transaction (common/context.h): an explicit transaction that the statements
// of one request join. Pool::query/pipeline calls whose context carries it (and whose pool is
// its pool) run on its connection, inside it, instead of each in a transaction of its own.
// It begins lazily: the first such call sends BEGIN and `prologue` ahead of its own
// statements, in the same round trip. Until commit() nothing is committed, so a failure of
// any earlier call is a definite rollback. End it with commit() or rollback(); destroying it
// otherwise closes the connection, which rolls back. One request, one call at a time.
class DbTransaction {
 public:
  // `later`: statements the caller may run after a failure (with rollback()); they are
  // prepared before BEGIN, since an aborted transaction refuses to parse them.
  DbTransaction(postgres::Pool& pool, std::vector<postgres::Query> prologue,
                std::vector<const postgres::Statement*> later = {});
  ~DbTransaction();
  DbTransaction(const DbTransaction&) = delete;
  DbTransaction& operator=(const DbTransaction&) = delete;

  bool begun() const noexcept { return begun_; }
  // Once begun: the prologue's results, or (prologue_error) what stopped it, in which case
  // nothing sent after it ran.
  const std::vector<postgres::Result>& prologue_results() const noexcept {
    return prologue_results_;
  }
  std::exception_ptr prologue_error() const noexcept { return prologue_error_; }
  // A statement failed since BEGIN: the server will only accept ROLLBACK.
  bool failed() const noexcept { return failed_; }

  // Runs `queries` (e.g. a last write) and COMMIT in one round trip. Errors as Pool::pipeline:
  // service_unavailable or SqlError: rolled back; deadline_exceeded: may have committed.
  boost::asio::awaitable<std::vector<postgres::Result>> commit(std::vector<postgres::Query> queries,
                                                               const RequestContext& ctx);
  // ROLLBACK, then `after` outside the transaction, in one round trip.
  boost::asio::awaitable<std::vector<postgres::Result>> rollback(std::vector<postgres::Query> after,
                                                                 const RequestContext& ctx);

 private:
  friend class postgres::Pool;
  boost::asio::awaitable<std::vector<postgres::Result>> run(std::vector<postgres::Query> queries,
                                                            Clock::time_point deadline,
                                                            const RequestContext* ctx, bool ends);

  postgres::Pool& pool_;
  std::vector<postgres::Query> prologue_;
  std::vector<const postgres::Statement*> later_;
  std::optional<postgres::Lease> lease_;
  std::vector<postgres::Result> prologue_results_;
  std::exception_ptr prologue_error_;
  bool begun_ = false;
  bool failed_ = false;
  bool ended_ = false;
};

}  // namespace userservice
