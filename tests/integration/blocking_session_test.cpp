// postgres::BlockingSession (the outbox relay's session) against a real server: typed rows,
// server errors as SqlError with their SQLSTATE, bounded waits, a waiter that stops a connect,
// and close() releasing the session's advisory locks.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include "adapters/postgres/blocking_session.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/sqlstate.h"
#include "sql_statements.h"
#include "support/servers.h"

namespace {

using namespace std::chrono_literals;
using userservice::postgres::BlockingSession;
using userservice::postgres::Params;
using userservice::postgres::Result;
using userservice::postgres::SessionFailure;
using userservice::postgres::SqlError;
using userservice::postgres::Statement;
namespace sql = userservice::postgres::sql;
namespace sqlstate = userservice::postgres::sqlstate;
using Clock = BlockingSession::Clock;

constexpr Statement kTyped{"test_typed",
                           "SELECT $1::text, true, 42::bigint, 1.5::float8, "
                           "'Infinity'::float8, NULL::text, 2.25::numeric"};
constexpr Statement kUnique{"test_unique", "INSERT INTO items VALUES ($1::int)"};
constexpr Statement kSleep{"test_sleep", "SELECT pg_sleep($1::float8)"};
constexpr Statement kHolds{"test_holds_lock",
                           "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                           "objid = 4242 AND granted"};
constexpr Statement kTakeLock{"test_take_lock", "SELECT pg_try_advisory_lock(4242)"};

class BlockingSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = userservice::testing::shared_pg().create_database();
    userservice::testing::shared_pg().query(dsn_, "CREATE TABLE items (id int PRIMARY KEY)");
  }
  BlockingSession connect() {
    return BlockingSession::connect(dsn_, "blocking-session-test", Clock::now() + 10s);
  }
  std::string dsn_;
};

TEST_F(BlockingSessionTest, ReturnsTypedRows) {
  BlockingSession s = connect();
  ASSERT_TRUE(s.open());
  const Result r = s.execute(kTyped, {"x"}, Clock::now() + 5s);
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.text(0, 0), "x");
  EXPECT_TRUE(r.boolean(0, 1));
  EXPECT_EQ(r.int64(0, 2), 42);
  EXPECT_DOUBLE_EQ(r.float64(0, 3), 1.5);
  EXPECT_TRUE(std::isinf(r.float64(0, 4)));
  EXPECT_FALSE(r.opt_text(0, 5).has_value());
  EXPECT_DOUBLE_EQ(r.float64(0, 6), 2.25);
  EXPECT_THROW(r.int64(0, 0), std::logic_error);  // text is not an integer
  // A generated statement, as the relay runs them.
  const Result hb = s.execute(sql::kOutboxRelayHeartbeat, {}, Clock::now() + 5s);
  EXPECT_EQ(hb.int64(0, 0), 1);
}

TEST_F(BlockingSessionTest, ARejectedStatementIsASqlErrorAndTheSessionStaysUsable) {
  BlockingSession s = connect();
  s.execute(kUnique, {"1"}, Clock::now() + 5s);
  try {
    s.execute(kUnique, {"1"}, Clock::now() + 5s);
    FAIL() << "expected a unique violation";
  } catch (const SqlError& e) {
    EXPECT_TRUE(sqlstate::is_unique_violation(e.sqlstate)) << e.sqlstate;
    EXPECT_EQ(e.constraint, "items_pkey");
    EXPECT_EQ(e.statement, "test_unique");
  }
  EXPECT_TRUE(s.open());
  EXPECT_EQ(s.execute(kTakeLock, {}, Clock::now() + 5s).rows(), 1);
}

TEST_F(BlockingSessionTest, AStatementPastItsDeadlineIsASessionFailure) {
  BlockingSession s = connect();
  const auto started = Clock::now();
  EXPECT_THROW(s.execute(kSleep, {"5"}, Clock::now() + 300ms), SessionFailure);
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST_F(BlockingSessionTest, TheServersStatementTimeoutIsASqlErrorNamedQueryCanceled) {
  BlockingSession s = connect();
  s.execute(sql::kUserserviceSessionTimeout, {"100"}, Clock::now() + 5s);
  try {
    s.execute(kSleep, {"5"}, Clock::now() + 5s);
    FAIL() << "expected the statement timeout";
  } catch (const SqlError& e) {
    EXPECT_TRUE(sqlstate::is_query_canceled(e.sqlstate)) << e.sqlstate;
  }
}

TEST_F(BlockingSessionTest, AWaiterThatStopsEndsTheConnect) {
  EXPECT_THROW(BlockingSession::connect(dsn_, "blocking-session-test", Clock::now() + 10s,
                                        [](int, short, Clock::time_point, bool interruptible) {
                                          EXPECT_TRUE(interruptible);
                                          return BlockingSession::WaitOutcome::stopped;
                                        }),
               SessionFailure);
}

TEST_F(BlockingSessionTest, AnUnreachableServerIsASessionFailure) {
  // Port 1: nothing listens; the connect fails (refused) well before its deadline.
  EXPECT_THROW(BlockingSession::connect("postgresql://127.0.0.1:1/x", "blocking-session-test",
                                        Clock::now() + 5s),
               SessionFailure);
}

TEST_F(BlockingSessionTest, CloseReleasesTheSessionsAdvisoryLocks) {
  BlockingSession holder = connect();
  BlockingSession other = connect();
  EXPECT_TRUE(holder.execute(kTakeLock, {}, Clock::now() + 5s).boolean(0, 0));
  EXPECT_FALSE(other.execute(kTakeLock, {}, Clock::now() + 5s).boolean(0, 0));
  holder.close();
  EXPECT_FALSE(holder.open());
  EXPECT_THROW(holder.execute(kTakeLock, {}, Clock::now() + 5s), SessionFailure);
  // The server may take a moment to end the closed session.
  bool taken = false;
  for (int i = 0; i < 50 && !taken; ++i) {
    taken = other.execute(kTakeLock, {}, Clock::now() + 5s).boolean(0, 0);
    if (!taken) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(taken);
  EXPECT_EQ(other.execute(kHolds, {}, Clock::now() + 5s).int64(0, 0), 1);
}

}  // namespace
