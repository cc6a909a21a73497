// Schema migrations against a real server: apply once, in order, atomically per migration,
// concurrently from several pools, and refuse a database newer than the binary.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pool.h"
#include "support/servers.h"
#include "telemetry/log.h"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using userservice::Clock;
using userservice::postgres::embedded_migrations;
using userservice::postgres::migrate;
using userservice::postgres::Migration;
using userservice::postgres::Pool;
using userservice::postgres::PoolOptions;
using Rows = std::vector<std::vector<std::string>>;

const std::vector<Migration> kTwo = {
    {1, "0001_first",
     "CREATE TABLE \"user\".first (id int PRIMARY KEY);\n"
     "SELECT pg_sleep(0.2); -- long enough for concurrent starts to overlap\n"},
    {2, "0002_second",
     "ALTER TABLE \"user\".first ADD COLUMN label text;\n"
     "CREATE TABLE \"user\".second (id int); -- no trailing newline"},
};

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override { dsn_ = pg().create_database(); }

  static userservice::testing::PgServer& pg() { return userservice::testing::shared_pg(); }

  PoolOptions options() const {
    PoolOptions o;
    o.dsn = dsn_;
    o.max_open = 2;
    o.operation_timeout = 100ms;  // migrations must not be bound by it
    o.name = "migrations-test";
    return o;
  }

  // Runs migrate() on a fresh pool; rethrows what it threw.
  void migrate_with(const std::vector<Migration>* list) {
    asio::io_context io;
    Pool pool(io.get_executor(), options(), log_, nullptr);
    std::exception_ptr error;
    bool done = false;
    auto op = list ? migrate(pool, log_, Clock::now() + 30s, *list)
                   : migrate(pool, log_, Clock::now() + 30s);
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e) {
      error = e;
      done = true;
    });
    io.run_for(60s);
    ASSERT_TRUE(done);
    if (error) std::rethrow_exception(error);
  }

  Rows versions() {
    return pg().query(dsn_,
                      "SELECT version::text, name FROM \"user\".schema_migrations "
                      "ORDER BY version");
  }

  userservice::telemetry::Logger log_{userservice::telemetry::Level::error, stderr};
  std::string dsn_;
};

TEST_F(MigrationsTest, AppliesEachMigrationOnce) {
  migrate_with(&kTwo);
  EXPECT_EQ(versions(), (Rows{{"1", "0001_first"}, {"2", "0002_second"}}));
  const Rows applied_at = pg().query(dsn_,
                                     "SELECT applied_at::text FROM "
                                     "\"user\".schema_migrations ORDER BY version");
  migrate_with(&kTwo);  // nothing left to do
  EXPECT_EQ(versions(), (Rows{{"1", "0001_first"}, {"2", "0002_second"}}));
  EXPECT_EQ(pg().query(dsn_,
                       "SELECT applied_at::text FROM \"user\".schema_migrations "
                       "ORDER BY version"),
            applied_at);
  EXPECT_EQ(pg().query(dsn_, "SELECT count(*)::text FROM \"user\".second"), (Rows{{"0"}}));

  // A later binary brings a third migration: only that one runs.
  std::vector<Migration> three = kTwo;
  three.push_back({3, "0003_third", "CREATE TABLE \"user\".third (id int)"});
  migrate_with(&three);
  EXPECT_EQ(versions().size(), 3u);
}

TEST_F(MigrationsTest, EmbeddedMigrationsApply) {
  ASSERT_FALSE(embedded_migrations().empty());
  migrate_with(nullptr);
  const Rows rows = versions();
  ASSERT_EQ(rows.size(), embedded_migrations().size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], std::to_string(embedded_migrations()[i].version));
    EXPECT_EQ(rows[i][1], embedded_migrations()[i].name);
  }
  migrate_with(nullptr);
  EXPECT_EQ(versions(), rows);
}

TEST_F(MigrationsTest, ConcurrentInstancesApplyOnce) {
  // Three pools (as three instances would have) race on one io_context.
  asio::io_context io;
  std::vector<std::unique_ptr<Pool>> pools;
  int done = 0;
  std::vector<std::exception_ptr> errors;
  for (int i = 0; i < 3; ++i) {
    pools.push_back(std::make_unique<Pool>(io.get_executor(), options(), log_, nullptr));
    asio::co_spawn(io, migrate(*pools.back(), log_, Clock::now() + 30s, kTwo),
                   [&](std::exception_ptr e) {
                     if (e) errors.push_back(e);
                     ++done;
                   });
  }
  io.run_for(60s);
  EXPECT_EQ(done, 3);
  for (auto& e : errors) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      ADD_FAILURE() << ex.what();
    }
  }
  EXPECT_EQ(versions(), (Rows{{"1", "0001_first"}, {"2", "0002_second"}}));
}

TEST_F(MigrationsTest, RefusesADatabaseWithANewerVersion) {
  migrate_with(&kTwo);
  pg().query(dsn_,
             "INSERT INTO \"user\".schema_migrations (version, name) "
             "VALUES (7, '0007_from_the_future')");
  try {
    migrate_with(&kTwo);
    FAIL() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_F(MigrationsTest, FailedMigrationIsRolledBackAndReported) {
  const std::vector<Migration> broken = {
      kTwo[0],
      {2, "0002_broken", "CREATE TABLE \"user\".half (id int);\nSELEC oops;"},
  };
  try {
    migrate_with(&broken);
    FAIL() << "expected a failure";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("0002_broken"), std::string::npos) << what;
    EXPECT_NE(what.find("42601"), std::string::npos) << what;
  }
  EXPECT_EQ(versions(), (Rows{{"1", "0001_first"}}));
  EXPECT_EQ(pg().query(dsn_, "SELECT to_regclass('\"user\".half') IS NULL"), (Rows{{"t"}}));
  // The advisory lock went with the failed session: a fixed binary proceeds.
  migrate_with(&kTwo);
  EXPECT_EQ(versions().size(), 2u);
}

TEST_F(MigrationsTest, UnreachableDatabaseIsAClearError) {
  asio::io_context io;
  PoolOptions o = options();
  o.dsn = "host=127.0.0.1 port=" + std::to_string(userservice::testing::free_loopback_port()) +
          " user=postgres connect_timeout=2";
  Pool pool(io.get_executor(), o, log_, nullptr);
  std::exception_ptr error;
  asio::co_spawn(io, migrate(pool, log_, Clock::now() + 5s, kTwo),
                 [&](std::exception_ptr e) { error = e; });
  io.run_for(30s);
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("database migration failed"), std::string::npos)
        << e.what();
  }
}

}  // namespace
