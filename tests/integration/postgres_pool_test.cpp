// The PostgreSQL pool against a real server: parameters and NULLs, prepared statements,
// pipelines, errors, pool limits, deadlines, cancellation, reconnects.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pool.h"
#include "domain/error.h"
#include "support/servers.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using userservice::Clock;
using userservice::domain::Error;
using userservice::domain::ErrorCode;
using userservice::postgres::Lease;
using userservice::postgres::Pool;
using userservice::postgres::PoolOptions;
using userservice::postgres::Query;
using userservice::postgres::Result;
using userservice::postgres::SqlError;
using userservice::postgres::Statement;

constexpr Statement kEcho{"test_echo", "SELECT $1::text AS a, $2::int + 1 AS b, NULL::text AS c"};
constexpr Statement kIsNull{"test_is_null", "SELECT $1::text IS NULL"};
constexpr Statement kPid{"test_pid", "SELECT pg_backend_pid()"};
constexpr Statement kSleep{"test_sleep", "SELECT pg_sleep($1::float8)"};
constexpr Statement kInsert{"test_insert", "INSERT INTO items (id, label) VALUES ($1::int, $2)"};
constexpr Statement kInsertMany{"test_insert_many",
                                "INSERT INTO items (id, label) SELECT g, 'x' FROM "
                                "generate_series($1::int, $2::int) g"};
constexpr Statement kCount{"test_count", "SELECT count(*) FROM items"};
constexpr Statement kPreparedCount{"test_prepared_count",
                                   "SELECT count(*) FROM pg_prepared_statements "
                                   "WHERE name = $1"};
constexpr Statement kBadSyntax{"test_bad_syntax", "SELEC 1"};
constexpr Statement kBegin{"test_begin", "BEGIN"};
constexpr Statement kCommit{"test_commit", "COMMIT"};
constexpr Statement kStatementTimeout{"test_statement_timeout", "SHOW statement_timeout"};
// Writes, so that an unconfirmed outcome is reported as "may have happened".
constexpr Statement kWrite{"test_write", "INSERT INTO items (id, label) VALUES ($1::int, $2)",
                           userservice::postgres::Access::write};
constexpr Statement kRelabel{"test_relabel", "UPDATE items SET label = $2 WHERE id = $1::int",
                             userservice::postgres::Access::write};

// A coalescible read (Statement::coalesced) and its set form; the key is column 1. The slow
// set form takes 300 ms, the single statement none.
constexpr Statement kLabelsMany{
    "test_labels_many",
    "SELECT id, label FROM items WHERE label IN (SELECT k FROM unnest($1::text[]) AS k)"};
constexpr Statement kLabel{"test_label",
                           "SELECT id, label FROM items WHERE label = $1",
                           userservice::postgres::Access::read,
                           false,
                           &kLabelsMany,
                           1};
// A set form whose cost grows with its keys (a primary-key probe each), as the service's do.
constexpr Statement kItemsByIds{
    "test_items_by_ids",
    "SELECT id, label FROM items WHERE id IN (SELECT k::int FROM unnest($1::text[]) AS k)"};
constexpr Statement kItemById{"test_item_by_id",
                              "SELECT id, label FROM items WHERE id = $1::int",
                              userservice::postgres::Access::read,
                              false,
                              &kItemsByIds,
                              0};
constexpr Statement kSlowLabelsMany{
    "test_slow_labels_many",
    "SELECT id, label FROM items, pg_sleep(0.3) WHERE label = ANY($1::text[])"};
constexpr Statement kSlowLabel{"test_slow_label",
                               "SELECT id, label FROM items WHERE label = $1",
                               userservice::postgres::Access::read,
                               false,
                               &kSlowLabelsMany,
                               1};

constexpr Statement kPlanCounts{
    "test_plan_counts",
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1"};

// ASSERT_* returns from the function, which a coroutine cannot do.
#define CO_ASSERT_TRUE(cond)                     \
  if (!(cond)) {                                 \
    ADD_FAILURE() << "expected true: " << #cond; \
    co_return;                                   \
  }

asio::awaitable<void> sleep_for(Clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Awaits `op` and returns the domain::Error it threw (nullopt if none).
template <typename T>
asio::awaitable<std::optional<Error>> error_of(asio::awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (const Error& e) {
    co_return e;
  }
  co_return std::nullopt;
}

asio::awaitable<int> backend_pid(Pool& pool) {
  Result r = co_await pool.query(kPid, {}, Clock::now() + 5s);
  co_return std::stoi(std::string(r.get(0, 0)));
}

// Starts body(0) … body(n - 1) concurrently; each adds one to `finished` when it ends.
void spawn_counted(const asio::any_io_executor& ex, int n,
                   std::function<asio::awaitable<void>(int)> body, int& finished) {
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        ex,
        [body, i, &finished]() -> asio::awaitable<void> {
          co_await body(i);
          ++finished;
        },
        asio::detached);
  }
}

asio::awaitable<void> until_finished(const int& finished, int n) {
  while (finished < n) co_await sleep_for(5ms);
}

class PostgresPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = userservice::testing::shared_pg().create_database();
    userservice::testing::shared_pg().query(dsn_,
                                            "CREATE TABLE items (id int PRIMARY KEY, label text)");
  }

  PoolOptions options(int max_open = 4) const {
    PoolOptions o;
    o.dsn = dsn_;
    o.max_open = max_open;
    o.max_idle = max_open;
    o.operation_timeout = 5s;
    o.name = "test";
    return o;
  }

  // Runs `body` on the test's io_context until it finishes; rethrows its exception.
  void run(const std::function<asio::awaitable<void>()>& body) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      error = e;
      done = true;
    });
    io_.restart();
    io_.run_for(60s);
    ASSERT_TRUE(done) << "test coroutine did not finish";
    if (error) std::rethrow_exception(error);
  }

  asio::io_context io_;
  userservice::telemetry::Logger log_{userservice::telemetry::Level::error, stderr};
  std::string dsn_;
};

TEST_F(PostgresPoolTest, QueryWithParamsAndNulls) {
  Pool pool(io_.get_executor(), options(), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    co_await pool.ping(Clock::now() + 5s);
    Result r = co_await pool.query(kEcho, {"hello", "41"}, Clock::now() + 5s);
    EXPECT_EQ(r.rows(), 1);
    EXPECT_EQ(r.columns(), 3);
    EXPECT_EQ(r.get(0, 0), "hello");
    EXPECT_EQ(r.get(0, 1), "42");
    EXPECT_TRUE(r.is_null(0, 2));
    EXPECT_EQ(r.get(0, 2), "");
    EXPECT_EQ(r.get_opt(0, 2), std::nullopt);
    EXPECT_EQ(r.get_opt(0, 0), std::optional<std::string_view>("hello"));
    EXPECT_EQ(r.column("b"), 1);
    EXPECT_EQ(r.column("missing"), -1);

    Result null_param = co_await pool.query(kIsNull, {std::nullopt}, Clock::now() + 5s);
    EXPECT_EQ(null_param.get(0, 0), "t");
    Result empty_param = co_await pool.query(kIsNull, {""}, Clock::now() + 5s);
    EXPECT_EQ(empty_param.get(0, 0), "f");

    Result inserted = co_await pool.query(kInsertMany, {"1", "3"}, Clock::now() + 5s);
    EXPECT_EQ(inserted.affected_rows(), 3);
    EXPECT_EQ(inserted.rows(), 0);
    Result count = co_await pool.query(kCount, {}, Clock::now() + 5s);
    EXPECT_EQ(count.get(0, 0), "3");
  });
}

TEST_F(PostgresPoolTest, PreparesEachStatementOncePerConnection) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    for (int i = 0; i < 3; ++i) {
      Result r = co_await pool.query(kEcho, {"x", std::to_string(i)}, Clock::now() + 5s);
      EXPECT_EQ(r.get(0, 1), std::to_string(i + 1));
    }
    Result prepared = co_await pool.query(kPreparedCount, {"test_echo"}, Clock::now() + 5s);
    EXPECT_EQ(prepared.get(0, 0), "1");
    EXPECT_EQ(co_await backend_pid(pool), pid);  // all on the one connection

    // The server's statement_timeout is the operation timeout.
    Result timeout = co_await pool.query(kStatementTimeout, {}, Clock::now() + 5s);
    EXPECT_EQ(timeout.get(0, 0), "5s");
  });
}

TEST_F(PostgresPoolTest, PipelineIsOneAtomicTransaction) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    std::vector<Query> ok;
    ok.push_back({&kInsert, {"1", "one"}});
    ok.push_back({&kInsert, {"2", std::nullopt}});
    ok.push_back({&kCount, {}});
    auto results = co_await pool.pipeline(std::move(ok), Clock::now() + 5s);
    CO_ASSERT_TRUE(results.size() == 3u);
    EXPECT_EQ(results[0].affected_rows(), 1);
    EXPECT_EQ(results[2].get(0, 0), "2");

    // The second statement fails: the first is rolled back with it.
    std::vector<Query> bad;
    bad.push_back({&kInsert, {"10", "ten"}});
    bad.push_back({&kInsert, {"1", "duplicate"}});
    bad.push_back({&kCount, {}});
    std::optional<SqlError> error;
    try {
      co_await pool.pipeline(std::move(bad), Clock::now() + 5s);
    } catch (const SqlError& e) {
      error = e;
    }
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->sqlstate, "23505");
    EXPECT_EQ(error->constraint, "items_pkey");
    EXPECT_EQ(error->statement, "test_insert");
    Result count = co_await pool.query(kCount, {}, Clock::now() + 5s);
    EXPECT_EQ(count.get(0, 0), "2");
    // The connection survived the SQL error, and its prepared statements too.
    EXPECT_EQ(co_await backend_pid(pool), pid);
    Result again = co_await pool.query(kInsert, {"3", "three"}, Clock::now() + 5s);
    EXPECT_EQ(again.affected_rows(), 1);
  });
}

TEST_F(PostgresPoolTest, SqlErrorsKeepTheConnectionUsable) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    for (int i = 0; i < 2; ++i) {  // a statement that failed to prepare is not remembered
      std::string state;
      try {
        co_await pool.query(kBadSyntax, {}, Clock::now() + 5s);
      } catch (const SqlError& e) {
        state = e.sqlstate;
      }
      EXPECT_EQ(state, "42601");
    }
    co_await pool.query(kInsert, {"1", "a"}, Clock::now() + 5s);
    std::string state;
    try {
      co_await pool.query(kInsert, {"1", "b"}, Clock::now() + 5s);
    } catch (const SqlError& e) {
      state = e.sqlstate;
    }
    EXPECT_EQ(state, "23505");
    EXPECT_EQ(co_await backend_pid(pool), pid);
  });
}

TEST_F(PostgresPoolTest, MaxOpenIsRespectedAndWaitersAreServedFifo) {
  Pool pool(io_.get_executor(), options(2), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    int active = 0, max_active = 0, finished = 0;
    std::set<int> pids;
    for (int i = 0; i < 6; ++i) {
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            Lease lease = co_await pool.acquire(Clock::now() + 10s);
            max_active = std::max(max_active, ++active);
            pids.insert(lease.backend_pid());
            co_await lease.query(kSleep, {"0.05"}, Clock::now() + 5s);
            --active;
            ++finished;
          },
          asio::detached);
    }
    while (finished < 6) co_await sleep_for(10ms);
    EXPECT_EQ(max_active, 2);
    EXPECT_LE(pids.size(), 2u);
    EXPECT_GE(pool.stats().wait_count, 4u);
    EXPECT_GT(pool.stats().wait_seconds_total, 0.0);

    // FIFO: with one connection held, waiters get it in the order they queued.
    Lease held = co_await pool.acquire(Clock::now() + 5s);
    Lease held2 = co_await pool.acquire(Clock::now() + 5s);
    std::vector<int> order;
    int served = 0;
    for (int i = 0; i < 4; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            Lease lease = co_await pool.acquire(Clock::now() + 10s);
            order.push_back(i);
            co_await sleep_for(5ms);
            lease.release();
            ++served;
          },
          asio::detached);
      co_await sleep_for(2ms);  // queue them in a known order
    }
    EXPECT_EQ(pool.stats().in_use, 2);
    EXPECT_EQ(pool.stats().idle, 0);
    held.release();
    while (served < 4) co_await sleep_for(5ms);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    held2.release();
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(pool.stats().idle, 2);
  });
}

TEST_F(PostgresPoolTest, WaitingPastTheDeadlineIsPoolExhausted) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    Lease held = co_await pool.acquire(Clock::now() + 5s);
    const auto started = Clock::now();
    auto error = co_await error_of(pool.query(kPid, {}, Clock::now() + 100ms));
    EXPECT_LT(Clock::now() - started, 1s);
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), ErrorCode::service_unavailable);
    EXPECT_EQ(error->message(), "database pool exhausted");
    // The expired waiter left the queue: the connection goes back to idle, then serves us.
    held.release();
    EXPECT_EQ(pool.stats().idle, 1);
    co_await pool.query(kPid, {}, Clock::now() + 5s);
  });
}

TEST_F(PostgresPoolTest, RequestDeadlineDuringQueryIsDeadlineExceededAndClosesConnection) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    const auto started = Clock::now();
    auto error = co_await error_of(pool.query(kSleep, {"3"}, Clock::now() + 200ms));
    EXPECT_LT(Clock::now() - started, 1s);
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), ErrorCode::deadline_exceeded);
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(pool.stats().idle, 0);
    EXPECT_NE(co_await backend_pid(pool), pid);  // not reused
  });
}

TEST_F(PostgresPoolTest, OperationTimeoutIsServiceUnavailable) {
  PoolOptions o = options(1);
  o.operation_timeout = 200ms;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    const auto started = Clock::now();
    auto error = co_await error_of(pool.query(kSleep, {"3"}, Clock::now() + 10s));
    EXPECT_LT(Clock::now() - started, 1s);
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), ErrorCode::service_unavailable);
    EXPECT_EQ(error->message(), "database unavailable");
    EXPECT_NE(co_await backend_pid(pool), pid);
  });
}

TEST_F(PostgresPoolTest, SlowQueryDoesNotBlockOthers) {
  Pool pool(io_.get_executor(), options(4), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::optional<Clock::time_point> slow_done;
    const auto started = Clock::now();
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          co_await pool.query(kSleep, {"0.5"}, Clock::now() + 5s);
          slow_done = Clock::now();
        },
        asio::detached);
    co_await sleep_for(20ms);
    for (int i = 0; i < 20; ++i) co_await pool.query(kPid, {}, Clock::now() + 5s);
    const auto fast_done = Clock::now();
    EXPECT_FALSE(slow_done.has_value());
    EXPECT_LT(fast_done - started, 400ms);
    while (!slow_done) co_await sleep_for(10ms);
    EXPECT_GE(*slow_done - started, 500ms);
  });
}

TEST_F(PostgresPoolTest, CancelledQueryClosesItsConnection) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int pid = co_await backend_pid(pool);
    auto winner = co_await (pool.query(kSleep, {"3"}, Clock::now() + 10s) || sleep_for(100ms));
    EXPECT_EQ(winner.index(), 1u);
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(pool.stats().idle, 0);
    EXPECT_NE(co_await backend_pid(pool), pid);
    EXPECT_EQ(pool.stats().idle, 1);
  });
}

TEST_F(PostgresPoolTest, CancelledWaiterLeavesTheQueue) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    Lease held = co_await pool.acquire(Clock::now() + 5s);
    const int pid = held.backend_pid();
    auto winner = co_await (pool.acquire(Clock::now() + 10s) || sleep_for(50ms));
    EXPECT_EQ(winner.index(), 1u);
    held.release();
    EXPECT_EQ(pool.stats().idle, 1);  // not handed to the departed waiter
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(co_await backend_pid(pool), pid);
  });
}

TEST_F(PostgresPoolTest, CancelledConnectReturnsItsSlot) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      // Cancelled at once: the connect is abandoned part-way.
      co_await (pool.query(kPid, {}, Clock::now() + 5s) || sleep_for(0ms));
      EXPECT_EQ(pool.stats().in_use, 0);
    }
    co_await pool.query(kPid, {}, Clock::now() + 5s);
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(pool.stats().idle, 1);
  });
}

TEST_F(PostgresPoolTest, StaysConsistentUnderConcurrencyAndRandomCancellation) {
  Pool pool(io_.get_executor(), options(3), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    int finished = 0, ok = 0, cancelled = 0;
    unsigned seed = 12345;
    const auto next = [&seed] { return (seed = seed * 1103515245u + 12345u) >> 16; };
    constexpr int kWorkers = 8, kRounds = 40;
    for (int w = 0; w < kWorkers; ++w) {
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            for (int i = 0; i < kRounds; ++i) {
              // Mostly 0-20 ms (cancelled in the pool queue, while connecting or mid-query),
              // every fourth round unhurried.
              const auto budget = i % 4 == 3 ? std::chrono::microseconds(2'000'000)
                                             : std::chrono::microseconds(next() % 20'000);
              std::vector<Query> batch;
              batch.push_back({&kEcho, {"x", std::to_string(i)}});
              batch.push_back({&kSleep, {"0.001"}});
              auto winner = co_await (pool.pipeline(std::move(batch), Clock::now() + 5s) ||
                                      sleep_for(budget));
              ++(winner.index() == 0 ? ok : cancelled);
            }
            ++finished;
          },
          asio::detached);
    }
    while (finished < kWorkers) co_await sleep_for(10ms);
    EXPECT_EQ(ok + cancelled, kWorkers * kRounds);
    EXPECT_GE(ok, kWorkers * kRounds / 4);  // at least the unhurried rounds
    EXPECT_GT(cancelled, 0);
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_LE(pool.stats().idle, 3);
    co_await pool.query(kPid, {}, Clock::now() + 5s);
  });
}

TEST_F(PostgresPoolTest, MaxLifetimeRecyclesConnections) {
  PoolOptions o = options(1);
  o.max_lifetime = 300ms;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    const int first = co_await backend_pid(pool);
    EXPECT_EQ(co_await backend_pid(pool), first);
    co_await sleep_for(400ms);
    const int second = co_await backend_pid(pool);
    EXPECT_NE(second, first);
    EXPECT_EQ(pool.stats().closed_max_lifetime, 1u);
  });
}

// The server ends idle connections (restart, pg_terminate_backend, idle timeouts): the pool
// notices at checkout and the next callers get fresh connections, not errors.
TEST_F(PostgresPoolTest, IdleConnectionsClosedByTheServerAreReplacedWithoutAnError) {
  Pool pool(io_.get_executor(), options(3), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::set<int> before;
    int finished = 0;
    spawn_counted(
        ex, 3,
        [&](int) -> asio::awaitable<void> {
          co_await pool.query(kSleep, {"0.05"}, Clock::now() + 5s);
          before.insert(co_await backend_pid(pool));
        },
        finished);
    co_await until_finished(finished, 3);
    CO_ASSERT_TRUE(pool.stats().idle == 3);

    userservice::testing::shared_pg().query(
        dsn_,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    co_await sleep_for(200ms);  // the termination notices arrive on the idle sockets

    // As many callers as dead idle connections: each one is dropped and replaced.
    std::set<int> after;
    int failures = 0;
    finished = 0;
    spawn_counted(
        ex, 3,
        [&](int) -> asio::awaitable<void> {
          try {
            after.insert(co_await backend_pid(pool));
          } catch (const Error&) {
            ++failures;
          }
        },
        finished);
    co_await until_finished(finished, 3);
    EXPECT_EQ(failures, 0);
    EXPECT_FALSE(after.empty());
    for (int pid : after) EXPECT_EQ(before.count(pid), 0u) << pid;
  });
}

TEST_F(PostgresPoolTest, MaxIdleClosesSurplusConnectionsOnlyAfterTheGrace) {
  PoolOptions o = options(4);
  o.max_idle = 1;
  o.idle_surplus_grace = 400ms;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // Four concurrent sleeps need four connections; returns their backend pids.
    auto burst = [&]() -> asio::awaitable<std::set<int>> {
      std::set<int> pids;
      int finished = 0;
      for (int i = 0; i < 4; ++i) {
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
              auto lease = co_await pool.acquire(Clock::now() + 5s);
              co_await lease.query(kSleep, {"0.1"}, Clock::now() + 5s);
              pids.insert(lease.backend_pid());
              ++finished;
            },
            asio::detached);
      }
      while (finished < 4) co_await sleep_for(10ms);
      co_return pids;
    };
    const auto first = co_await burst();
    EXPECT_EQ(first.size(), 4u);
    // Released surplus stays warm within the grace: the next burst reuses all four.
    EXPECT_EQ(pool.stats().idle, 4);
    EXPECT_EQ(pool.stats().closed_max_idle, 0u);
    const auto second = co_await burst();
    EXPECT_EQ(second, first);
    EXPECT_EQ(pool.stats().closed_max_idle, 0u);
    // After the grace, the least recently used surplus is closed down to max_idle.
    co_await sleep_for(700ms);
    EXPECT_EQ(pool.stats().idle, 1);
    EXPECT_EQ(pool.stats().in_use, 0);
    EXPECT_EQ(pool.stats().closed_max_idle, 3u);
    // The one kept is still usable.
    const int kept = co_await backend_pid(pool);
    EXPECT_TRUE(first.count(kept) == 1) << kept;
  });
}

// USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME (Go's SetConnMaxIdleTime): every connection idle that
// long is closed, whatever max_idle says; one in use is never touched; the pool reconnects.
TEST_F(PostgresPoolTest, MaxIdleTimeClosesEveryConnectionIdleThatLong) {
  PoolOptions o = options(4);
  o.max_idle = 4;
  o.max_idle_time = 300ms;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    int finished = 0;
    spawn_counted(
        co_await asio::this_coro::executor, 3,
        [&](int) -> asio::awaitable<void> {
          co_await pool.query(kSleep, {"0.05"}, Clock::now() + 5s);
        },
        finished);
    co_await until_finished(finished, 3);
    EXPECT_EQ(pool.stats().idle, 3);
    // One connection stays busy past the idle time: it is not closed under its user.
    auto held = co_await pool.acquire(Clock::now() + 5s);
    const int held_pid = held.backend_pid();
    co_await sleep_for(150ms);
    EXPECT_EQ(pool.stats().closed_max_idle_time, 0u);
    co_await sleep_for(400ms);
    EXPECT_EQ(pool.stats().idle, 0);
    EXPECT_EQ(pool.stats().in_use, 1);
    EXPECT_EQ(pool.stats().closed_max_idle_time, 2u);
    EXPECT_EQ(pool.stats().closed_max_idle, 0u);
    { auto done = std::move(held); }
    EXPECT_EQ(pool.stats().idle, 1);
    // Released, it idles out in turn; the next caller gets a fresh connection.
    co_await sleep_for(450ms);
    EXPECT_EQ(pool.stats().idle, 0);
    EXPECT_EQ(pool.stats().closed_max_idle_time, 3u);
    const int fresh = co_await backend_pid(pool);
    EXPECT_NE(fresh, held_pid);
  });
}

TEST_F(PostgresPoolTest, WaitingCallersShareOneRoundTripEachInItsOwnTransaction) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    const int pid = co_await backend_pid(pool);
    co_await pool.query(kInsert, {"100", "taken"}, Clock::now() + 5s);
    // Hold the only connection so that every caller below has to queue.
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    constexpr int kCallers = 6;
    int finished = 0;
    std::vector<std::string> outcome(kCallers);
    std::vector<int> pids(kCallers, 0);
    spawn_counted(
        ex, kCallers,
        [&](int i) -> asio::awaitable<void> {
          // Caller 3 inserts a taken id: its transaction (the insert and the pid read) fails
          // alone.
          const std::string id = i == 3 ? "100" : std::to_string(i + 1);
          std::vector<Query> q;
          q.push_back(Query{&kInsert, {id, "x"}});
          q.push_back(Query{&kPid, {}});
          try {
            auto r = co_await pool.pipeline(std::move(q), Clock::now() + 5s);
            pids[i] = std::stoi(std::string(r[1].get(0, 0)));
            outcome[i] = "ok";
          } catch (const SqlError& e) {
            outcome[i] = e.sqlstate;
          }
        },
        finished);
    co_await sleep_for(50ms);
    EXPECT_EQ(finished, 0);
    lease.release();
    co_await until_finished(finished, kCallers);
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_EQ(outcome[i], i == 3 ? "23505" : "ok") << i;
      if (i != 3) {
        EXPECT_EQ(pids[i], pid) << i;
      }
    }
    EXPECT_EQ(pool.stats().batches, 1u);
    EXPECT_EQ(pool.stats().batched_calls, static_cast<std::uint64_t>(kCallers));
    Result count = co_await pool.query(kCount, {}, Clock::now() + 5s);
    EXPECT_EQ(count.get(0, 0), "6");             // 100 and five of the six callers' rows
    EXPECT_EQ(co_await backend_pid(pool), pid);  // the connection stayed usable
  });
}

TEST_F(PostgresPoolTest, BatchNeverPreparesAStatementTwiceAndReportsBadSqlToEachCaller) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    // Four callers of two statements this connection has never prepared, one of them bad.
    int finished = 0;
    std::vector<std::string> outcome(4);
    spawn_counted(
        ex, 4,
        [&](int i) -> asio::awaitable<void> {
          try {
            if (i % 2 == 0) {
              auto r = co_await pool.query(kEcho, {"v", std::to_string(i)}, Clock::now() + 5s);
              outcome[i] = std::string(r.get(0, 1));
            } else {
              co_await pool.query(kBadSyntax, {}, Clock::now() + 5s);
              outcome[i] = "ran";
            }
          } catch (const SqlError& e) {
            outcome[i] = e.sqlstate;
          }
        },
        finished);
    co_await sleep_for(50ms);
    lease.release();
    co_await until_finished(finished, 4);
    EXPECT_EQ(outcome[0], "1");
    EXPECT_EQ(outcome[1], "42601");
    EXPECT_EQ(outcome[2], "3");
    EXPECT_EQ(outcome[3], "42601");
    EXPECT_EQ(pool.stats().batches, 1u);
    Result prepared = co_await pool.query(kPreparedCount, {"test_echo"}, Clock::now() + 5s);
    EXPECT_EQ(prepared.get(0, 0), "1");
  });
}

TEST_F(PostgresPoolTest, CallerWhoseDeadlinePassesInABatchLeavesTheOthersTheirResults) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    const int pid = co_await backend_pid(pool);
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    int finished = 0;
    std::optional<Error> slow_error, short_error;
    // Caller 0 sleeps 0.3 s with a 5 s deadline; caller 1 reads a pid with a 150 ms one.
    spawn_counted(
        ex, 2,
        [&](int i) -> asio::awaitable<void> {
          if (i == 0) {
            slow_error = co_await error_of(pool.query(kSleep, {"0.3"}, Clock::now() + 5s));
          } else {
            short_error = co_await error_of(pool.query(kPid, {}, Clock::now() + 150ms));
          }
        },
        finished);
    co_await sleep_for(20ms);
    lease.release();  // both run in one round trip: the sleep first, the pid read after it
    co_await until_finished(finished, 2);
    EXPECT_FALSE(slow_error.has_value()) << slow_error->detail();
    CO_ASSERT_TRUE(short_error.has_value());
    EXPECT_EQ(short_error->code(), ErrorCode::deadline_exceeded);
    EXPECT_EQ(pool.stats().batches, 1u);
    // Both waited ~20 ms for a connection; the 0.3 s the batch ran is not waiting.
    EXPECT_LT(pool.stats().wait_seconds_total, 0.2);
    EXPECT_EQ(co_await backend_pid(pool), pid);  // nobody closed the shared connection
  });
}

// One caller's outcome in a batch, as a test can compare it: "ok", an error code, a SQLSTATE.
struct Outcome {
  std::string what;
  bool operator==(const Outcome&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Outcome& o) { return os << o.what; }

template <typename T>
asio::awaitable<Outcome> outcome_of(asio::awaitable<T> op) {
  try {
    co_await std::move(op);
    co_return Outcome{"ok"};
  } catch (const Error& e) {
    co_return Outcome{std::string(userservice::domain::to_string(e.code()))};
  } catch (const SqlError& e) {
    co_return Outcome{e.sqlstate};
  }
}

// Twelve queued writers on a pool of one while another session holds the row lock of item 1
// for a second; writers 4 and 9 need that row. Batched or not, each caller must get the
// outcome it would have had on a connection of its own: the two blocked ones are cancelled by
// the server's statement_timeout (503, rolled back), everyone else commits and says so.
TEST_F(PostgresPoolTest, BatchedCallersFailExactlyAsTheyWouldOnTheirOwnConnection) {
  auto& pg = userservice::testing::shared_pg();
  std::vector<std::vector<Outcome>> runs;
  for (int max_batch : {16, 1}) {
    pg.query(dsn_, "TRUNCATE items; INSERT INTO items VALUES (1, 'locked')");
    PoolOptions o = options(1);
    o.operation_timeout = 300ms;
    o.max_batch = max_batch;
    o.deadline_guard = true;
    Pool pool(io_.get_executor(), o, log_, nullptr);
    std::vector<Outcome> outcomes(12);
    std::thread locker([&] {
      pg.query(dsn_,
               "BEGIN; SELECT 1 FROM items WHERE id = 1 FOR UPDATE; SELECT pg_sleep(1.2); "
               "COMMIT");
    });
    std::this_thread::sleep_for(200ms);
    run([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      co_await userservice::postgres::migrate(pool, log_, Clock::now() + 30s);  // the guard
      co_await backend_pid(pool);  // the connection exists: the writers below queue for it
      auto lease = co_await pool.acquire(Clock::now() + 5s);
      int finished = 0;
      spawn_counted(
          ex, 12,
          [&](int i) -> asio::awaitable<void> {
            if (i == 4 || i == 9) {
              outcomes[i] = co_await outcome_of(
                  pool.query(kRelabel, {"1", "writer-" + std::to_string(i)}, Clock::now() + 5s));
            } else {
              outcomes[i] = co_await outcome_of(
                  pool.query(kWrite, {std::to_string(100 + i), "w"}, Clock::now() + 5s));
            }
          },
          finished);
      co_await sleep_for(20ms);
      lease.release();
      co_await until_finished(finished, 12);
      if (max_batch > 1) EXPECT_GE(pool.stats().batches, 1u);
    });
    locker.join();
    // What was committed is exactly what was answered "ok".
    for (int i = 0; i < 12; ++i) {
      if (i == 4 || i == 9) continue;
      const auto rows =
          pg.query(dsn_, "SELECT count(*) FROM items WHERE id = " + std::to_string(100 + i));
      EXPECT_EQ(rows.at(0).at(0), outcomes[i].what == "ok" ? "1" : "0") << "writer " << i;
    }
    const auto label = pg.query(dsn_, "SELECT label FROM items WHERE id = 1");
    EXPECT_EQ(label.at(0).at(0), "locked");
    runs.push_back(outcomes);
  }
  std::vector<Outcome> expected(12, Outcome{"ok"});
  expected[4] = expected[9] = Outcome{"service_unavailable"};
  EXPECT_EQ(runs[0], expected) << "batched";
  EXPECT_EQ(runs[1], expected) << "one caller per round trip";
}

// The backend freezes (SIGSTOP) while the second of three segments runs. The first was
// committed and answers so; the second, a read, is 503; the third, a write sent but never
// confirmed, is 504: it may have happened, and a caller must not be told it did not.
TEST_F(PostgresPoolTest, FrozenServerMidBatchAnswersCommittedOkReadUnavailableWriteInDoubt) {
  PoolOptions o = options(1);
  o.operation_timeout = 400ms;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    const int pid = co_await backend_pid(pool);
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    int finished = 0;
    std::vector<Outcome> outcomes(3);
    spawn_counted(
        ex, 3,
        [&](int i) -> asio::awaitable<void> {
          if (i == 0) {
            outcomes[i] = co_await outcome_of(pool.query(kWrite, {"1", "a"}, Clock::now() + 5s));
          } else if (i == 1) {
            outcomes[i] = co_await outcome_of(pool.query(kSleep, {"0.2"}, Clock::now() + 5s));
          } else {
            outcomes[i] = co_await outcome_of(pool.query(kWrite, {"3", "c"}, Clock::now() + 5s));
          }
        },
        finished);
    co_await sleep_for(20ms);
    lease.release();
    co_await sleep_for(100ms);  // segment 0 committed, segment 1 sleeping
    ::kill(pid, SIGSTOP);
    co_await until_finished(finished, 3);
    ::kill(pid, SIGCONT);
    EXPECT_EQ(outcomes[0], Outcome{"ok"});
    EXPECT_EQ(outcomes[1], Outcome{"service_unavailable"});
    EXPECT_EQ(outcomes[2], Outcome{"deadline_exceeded"});
    EXPECT_EQ(pool.stats().batches, 1u);
  });
  const auto rows =
      userservice::testing::shared_pg().query(dsn_, "SELECT id FROM items ORDER BY id");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
}

// A write queued in a batch behind a slow transaction: its caller gives up at its deadline
// (504); when the server reaches it later, the deadline guard rolls it back instead of letting
// it commit unseen.
TEST_F(PostgresPoolTest, BatchedWriteReachedAfterItsDeadlineRollsBack) {
  PoolOptions o = options(1);
  o.deadline_guard = true;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    co_await userservice::postgres::migrate(pool, log_, Clock::now() + 30s);  // the guard
    auto ex = co_await asio::this_coro::executor;
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    int finished = 0;
    std::optional<Error> slow_error, late_error;
    spawn_counted(
        ex, 2,
        [&](int i) -> asio::awaitable<void> {
          if (i == 0) {
            slow_error = co_await error_of(pool.query(kSleep, {"0.4"}, Clock::now() + 5s));
          } else {
            late_error = co_await error_of(pool.query(kWrite, {"7", "late"}, Clock::now() + 150ms));
          }
        },
        finished);
    co_await sleep_for(20ms);
    lease.release();
    co_await until_finished(finished, 2);
    EXPECT_FALSE(slow_error.has_value());
    CO_ASSERT_TRUE(late_error.has_value());
    EXPECT_EQ(late_error->code(), ErrorCode::deadline_exceeded);
    co_await sleep_for(400ms);  // the batch has read the guarded segment by now
    Result count = co_await pool.query(kCount, {}, Clock::now() + 5s);
    EXPECT_EQ(count.get(0, 0), "0");
  });
}

TEST_F(PostgresPoolTest, BatchingCanBeTurnedOff) {
  PoolOptions o = options(1);
  o.max_batch = 1;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    int finished = 0;
    spawn_counted(
        ex, 3,
        [&](int) -> asio::awaitable<void> { co_await pool.query(kPid, {}, Clock::now() + 5s); },
        finished);
    co_await sleep_for(20ms);
    lease.release();
    co_await until_finished(finished, 3);
    EXPECT_EQ(pool.stats().batches, 0u);
  });
}

TEST_F(PostgresPoolTest, LeaseLeftInTransactionIsDiscarded) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    int committed_pid = 0;
    {
      Lease lease = co_await pool.acquire(Clock::now() + 5s);
      committed_pid = lease.backend_pid();
      co_await lease.query(kBegin, {}, Clock::now() + 5s);
      co_await lease.query(kInsert, {"1", "kept"}, Clock::now() + 5s);
      co_await lease.query(kCommit, {}, Clock::now() + 5s);
    }
    EXPECT_EQ(co_await backend_pid(pool), committed_pid);  // clean: reused
    int open_pid = 0;
    {
      Lease lease = co_await pool.acquire(Clock::now() + 5s);
      open_pid = lease.backend_pid();
      co_await lease.query(kBegin, {}, Clock::now() + 5s);
      co_await lease.query(kInsert, {"2", "rolled back"}, Clock::now() + 5s);
    }  // no COMMIT: closed, which rolls back
    EXPECT_NE(co_await backend_pid(pool), open_pid);
    Result count = co_await pool.query(kCount, {}, Clock::now() + 5s);
    EXPECT_EQ(count.get(0, 0), "1");
  });
}

TEST_F(PostgresPoolTest, ClosedPoolRefusesWork) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    co_await pool.query(kPid, {}, Clock::now() + 5s);
    Lease held = co_await pool.acquire(Clock::now() + 5s);
    pool.close();
    auto error = co_await error_of(pool.query(kPid, {}, Clock::now() + 5s));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), ErrorCode::service_unavailable);
    held.release();  // closed on release
    EXPECT_EQ(pool.stats().idle, 0);
    EXPECT_EQ(pool.stats().in_use, 0);
  });
}

TEST_F(PostgresPoolTest, UnreachableServerIsServiceUnavailable) {
  PoolOptions o = options(1);
  o.dsn = "host=127.0.0.1 port=" + std::to_string(userservice::testing::free_loopback_port()) +
          " user=postgres dbname=postgres connect_timeout=2";
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ping = co_await error_of(pool.ping(Clock::now() + 5s));
    CO_ASSERT_TRUE(ping.has_value());
    EXPECT_EQ(ping->code(), ErrorCode::service_unavailable);
    EXPECT_NE(ping->detail().find("onnection refused"), std::string::npos) << ping->detail();
    auto query = co_await error_of(pool.query(kPid, {}, Clock::now() + 5s));
    CO_ASSERT_TRUE(query.has_value());
    EXPECT_EQ(query->code(), ErrorCode::service_unavailable);
    EXPECT_EQ(pool.stats().in_use, 0);
  });
}

TEST_F(PostgresPoolTest, InvalidDsnThrowsAtConstruction) {
  PoolOptions o = options(1);
  o.dsn = "host=127.0.0.1 nonsense_option=1";
  EXPECT_THROW(Pool(io_.get_executor(), o, log_, nullptr), std::invalid_argument);
}

TEST_F(PostgresPoolTest, RecordsStatementMetrics) {
  userservice::telemetry::Metrics metrics;
  Pool pool(io_.get_executor(), options(1), log_, &metrics);
  run([&]() -> asio::awaitable<void> {
    co_await pool.query(kPid, {}, Clock::now() + 5s);
    try {
      co_await pool.query(kBadSyntax, {}, Clock::now() + 5s);
    } catch (const SqlError&) {
    }
  });
  const std::string text = metrics.serialize();
  EXPECT_NE(text.find("test_pid"), std::string::npos);
  EXPECT_NE(text.find("test_bad_syntax"), std::string::npos);
}

// Its own server: the test stops and restarts it.
TEST(PostgresPoolRestartTest, ReconnectsAfterServerRestart) {
  userservice::testing::PgServer server;
  asio::io_context io;
  userservice::telemetry::Logger log{userservice::telemetry::Level::error, stderr};
  PoolOptions o;
  o.dsn = server.dsn();
  o.max_open = 4;
  o.name = "restart";
  Pool pool(io.get_executor(), o, log, nullptr);
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // Several idle connections, all of which the restart breaks.
        int finished = 0;
        for (int i = 0; i < 3; ++i) {
          asio::co_spawn(
              ex,
              [&]() -> asio::awaitable<void> {
                co_await pool.query(kSleep, {"0.05"}, Clock::now() + 5s);
                ++finished;
              },
              asio::detached);
        }
        while (finished < 3) co_await sleep_for(10ms);
        EXPECT_EQ(pool.stats().idle, 3);

        // A query in flight when the server goes down fails as unavailable.
        std::optional<Error> in_flight;
        bool in_flight_done = false;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
              in_flight = co_await error_of(pool.query(kSleep, {"3"}, Clock::now() + 10s));
              in_flight_done = true;
            },
            asio::detached);
        co_await sleep_for(100ms);
        server.stop();  // blocks the loop briefly; fine for a test
        while (!in_flight_done) co_await sleep_for(10ms);
        CO_ASSERT_TRUE(in_flight.has_value());
        EXPECT_EQ(in_flight->code(), ErrorCode::service_unavailable);

        auto down = co_await error_of(pool.query(kPid, {}, Clock::now() + 5s));
        CO_ASSERT_TRUE(down.has_value());
        EXPECT_EQ(down->code(), ErrorCode::service_unavailable);

        server.start();
        Result r = co_await pool.query(kPid, {}, Clock::now() + 5s);  // fresh connection
        EXPECT_EQ(r.rows(), 1);
        co_await pool.ping(Clock::now() + 5s);
      },
      [&](std::exception_ptr e) {
        failure = e;
        done = true;
      });
  io.run_for(60s);
  ASSERT_TRUE(done);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

// ---- Read coalescing -------------------------------------------------------------------

namespace {

// A result as sorted "id|label" rows ("<null>" for NULL), plus its column count.
std::string rows_of(const Result& r) {
  std::vector<std::string> rows;
  for (int i = 0; i < r.rows(); ++i) {
    rows.push_back(std::string(r.get(i, 0)) + "|" +
                   (r.is_null(i, 1) ? "<null>" : std::string(r.get(i, 1))));
  }
  std::sort(rows.begin(), rows.end());
  std::string out = std::to_string(r.columns()) + ":";
  for (const auto& row : rows) out += row + ";";
  return out;
}

}  // namespace

TEST_F(PostgresPoolTest, CoalescedReadsAnswerEachCallerWhatItsOwnStatementReturns) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  // Keys an array literal must quote and escape, a label two rows share, unknown keys, the
  // empty string and the text NULL (a string, not SQL NULL).
  const std::vector<std::string> keys = {"a",         "dup",    "quote\"d", "back\\slash",
                                         "comma,{x}", "sp ace", "",         "NULL",
                                         "unknown",   "b",      "nope"};
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    int id = 1;
    for (const auto& label :
         {"a", "dup", "dup", "quote\"d", "back\\slash", "comma,{x}", "sp ace", "", "NULL", "b"}) {
      co_await pool.query(kInsert, {std::to_string(id++), std::string(label)}, Clock::now() + 5s);
    }
    // What each key's own statement returns, run alone (nothing queued, nothing coalesced).
    std::map<std::string, std::string> expected;
    for (const auto& k : keys)
      expected[k] = rows_of(co_await pool.query(kLabel, {k}, Clock::now() + 5s));
    EXPECT_EQ(pool.stats().coalesced, 0u);
    EXPECT_EQ(expected["dup"], "2:2|dup;3|dup;");
    EXPECT_EQ(expected["unknown"], "2:");

    // 40 queued callers of the read, and some others between them, on the one connection.
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    constexpr int kCallers = 44;
    int finished = 0;
    std::vector<std::string> got(kCallers);
    spawn_counted(
        ex, kCallers,
        [&](int i) -> asio::awaitable<void> {
          if (i % 11 == 5) {  // not coalescible: runs in a segment of its own
            Result r = co_await pool.query(kEcho, {"x", std::to_string(i)}, Clock::now() + 5s);
            got[i] = std::string(r.get(0, 1));
          } else {
            got[i] =
                rows_of(co_await pool.query(kLabel, {keys[i % keys.size()]}, Clock::now() + 5s));
          }
        },
        finished);
    co_await sleep_for(50ms);
    lease.release();
    co_await until_finished(finished, kCallers);
    for (int i = 0; i < kCallers; ++i) {
      const std::string want =
          i % 11 == 5 ? std::to_string(i + 1) : expected[keys[i % keys.size()]];
      EXPECT_EQ(got[i], want) << "caller " << i << " key " << keys[i % keys.size()];
    }
    EXPECT_EQ(pool.stats().coalesced, 1u);
    EXPECT_EQ(pool.stats().coalesced_calls, 40u);
  });
}

TEST_F(PostgresPoolTest, ACoalescedCallerKeepsItsOwnDeadlineAndCancellation) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    co_await pool.query(kInsert, {"1", "k"}, Clock::now() + 5s);
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    // Four callers of a read whose set form takes 300 ms: one with a 150 ms deadline, one
    // cancelled after 100 ms, two that wait.
    std::vector<std::string> outcome(4);
    int finished = 0;
    asio::cancellation_signal cancel;
    // Parameters, not captures: a coroutine's frame copies its parameters, while captures
    // live in the lambda object, gone at the end of this loop's iteration.
    auto body = [&](int i, Clock::time_point deadline) -> asio::awaitable<void> {
      try {
        Result r = co_await pool.query(kSlowLabel, {"k"}, deadline);
        outcome[i] = rows_of(r);
      } catch (const Error& e) {
        outcome[i] = std::string(userservice::domain::to_string(e.code()));
      } catch (const boost::system::system_error& e) {
        outcome[i] = e.code() == asio::error::operation_aborted ? "cancelled" : e.what();
      }
      ++finished;
    };
    for (int i = 0; i < 4; ++i) {
      const auto deadline = Clock::now() + (i == 0 ? 150ms : 5s);
      if (i == 1) {
        asio::co_spawn(ex, body(i, deadline),
                       asio::bind_cancellation_slot(cancel.slot(), asio::detached));
      } else {
        asio::co_spawn(ex, body(i, deadline), asio::detached);
      }
    }
    co_await sleep_for(20ms);
    lease.release();
    co_await sleep_for(100ms);
    cancel.emit(asio::cancellation_type::terminal);
    co_await until_finished(finished, 4);
    EXPECT_EQ(outcome[0], "deadline_exceeded");
    EXPECT_EQ(outcome[1], "cancelled");
    EXPECT_EQ(outcome[2], "2:1|k;");
    EXPECT_EQ(outcome[3], "2:1|k;");
    EXPECT_EQ(pool.stats().coalesced_calls, 4u);
    EXPECT_EQ((co_await pool.query(kLabel, {"k"}, Clock::now() + 5s)).rows(), 1);  // usable
  });
}

TEST_F(PostgresPoolTest, CoalescingSpreadsTheQueueOverTheConnections) {
  Pool pool(io_.get_executor(), options(4), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    co_await pool.query(kInsert, {"1", "k"}, Clock::now() + 5s);
    std::vector<Lease> leases;
    for (int i = 0; i < 4; ++i) leases.push_back(co_await pool.acquire(Clock::now() + 5s));
    constexpr int kCallers = 40;
    int finished = 0;
    spawn_counted(
        ex, kCallers,
        [&](int) -> asio::awaitable<void> {
          EXPECT_EQ((co_await pool.query(kLabel, {"k"}, Clock::now() + 5s)).rows(), 1);
        },
        finished);
    co_await sleep_for(50ms);
    for (auto& l : leases) l.release();
    co_await until_finished(finished, kCallers);
    // Each returning connection takes its fair share of the 40 (queue / 4), not all of them:
    // one set of 40 would run on one backend while three connections idle.
    EXPECT_EQ(pool.stats().coalesced_calls, static_cast<std::uint64_t>(kCallers));
    EXPECT_GE(pool.stats().coalesced, 4u);
  });
}

// PostgreSQL keeps planning a prepared statement anew while its custom plans look cheaper
// than the generic plan (which assumes 10 array elements); small sets of keys did, on every
// execution. The pool pads the key array so that the generic plan is chosen and reused.
TEST_F(PostgresPoolTest, TheSetFormSettlesOnItsGenericPlan) {
  Pool pool(io_.get_executor(), options(1), log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    co_await pool.query(kInsertMany, {"1", "5000"}, Clock::now() + 5s);
    for (int round = 0; round < 12; ++round) {
      auto lease = co_await pool.acquire(Clock::now() + 5s);
      int finished = 0;
      spawn_counted(
          ex, 3,
          [&](int i) -> asio::awaitable<void> {
            co_await pool.query(kItemById, {std::to_string(i + 1)}, Clock::now() + 5s);
          },
          finished);
      co_await sleep_for(10ms);
      lease.release();
      co_await until_finished(finished, 3);
    }
    EXPECT_EQ(pool.stats().coalesced, 12u);
    // The same (only) connection: its prepared statements and how they were planned.
    Result r = co_await pool.query(kPlanCounts, {"test_items_by_ids"}, Clock::now() + 5s);
    CO_ASSERT_TRUE(r.rows() == 1);
    EXPECT_GE(std::stoi(std::string(r.get(0, 0))), 6) << "generic plans";
    EXPECT_LE(std::stoi(std::string(r.get(0, 1))), 5) << "custom plans";
  });
}

TEST_F(PostgresPoolTest, CoalescingCanBeTurnedOff) {
  PoolOptions o = options(1);
  o.coalesce_reads = false;
  Pool pool(io_.get_executor(), o, log_, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto lease = co_await pool.acquire(Clock::now() + 5s);
    int finished = 0;
    spawn_counted(
        ex, 5,
        [&](int) -> asio::awaitable<void> {
          co_await pool.query(kLabel, {"a"}, Clock::now() + 5s);
        },
        finished);
    co_await sleep_for(20ms);
    lease.release();
    co_await until_finished(finished, 5);
    EXPECT_EQ(pool.stats().coalesced, 0u);
    EXPECT_GE(pool.stats().batches, 1u);  // still batched: one round trip, five executions
  });
}
