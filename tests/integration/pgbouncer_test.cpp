// Behind PgBouncer 1.18 (docs/scaling.md, "Connection poolers"), with a real pgbouncer:
// - session mode works as is: the pool's statement_timeout is a SET after connecting, not the
//   startup packet's `options` PgBouncer refuses, and named prepared statements and the relay's
//   advisory locks keep their session;
// - transaction mode (USERSERVICE_POSTGRES_POOLING=transaction): unnamed statements, the
//   statement_timeout per transaction (nothing sticks to a server session another client gets
//   next), one Sync per round trip, and migrations plus the relay's leadership on
//   USERSERVICE_POSTGRES_SESSION_DSN; many service connections on few server connections.
#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/postgres/pool.h"
#include "domain/error.h"
#include "integration/account_helpers.h"
#include "integration/event_stream_helpers.h"
#include "support/pgbouncer.h"
#include "telemetry/log.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace userservice::testing::events;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;
namespace pg = userservice::postgres;
using userservice::Clock;

namespace {

constexpr pg::Statement kShowTimeout{"test_bouncer_show_timeout", "SHOW statement_timeout"};
constexpr pg::Statement kAddOne{"test_bouncer_add_one", "SELECT $1::int + 1"};
constexpr pg::Statement kSleep{"test_bouncer_sleep", "SELECT pg_sleep($1::float8)"};
constexpr pg::Statement kPrepared{"test_bouncer_prepared",
                                  "SELECT count(*) FROM pg_prepared_statements"};

std::string dbname_of(const std::string& dsn) {
  std::smatch m;
  if (!std::regex_search(dsn, m, std::regex("dbname=(\\S+)"))) throw std::runtime_error(dsn);
  return m[1];
}

// Runs `body` on a fresh io_context until it ends; rethrows what it threw.
void run(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.run_for(60s);
  ASSERT_TRUE(done) << "test coroutine did not finish";
  if (error) std::rethrow_exception(error);
}

pg::PoolOptions pool_options(const std::string& dsn, bool transaction_pooling) {
  pg::PoolOptions o;
  o.dsn = dsn;
  o.max_open = o.max_idle = 8;
  o.operation_timeout = 1500ms;
  o.name = "bouncer";
  o.transaction_pooling = transaction_pooling;
  return o;
}

// Server sessions PgBouncer holds to PostgreSQL for `db` (SHOW SERVERS).
std::size_t server_sessions(const PgBouncer& b, const std::string& db) {
  std::size_t n = 0;
  // Columns: type, user, database, state, ...
  for (const auto& row : b.admin("SHOW SERVERS")) n += row.size() > 2 && row[2] == db;
  return n;
}

}  // namespace

TEST(PgBouncerPool, SessionModeGetsItsStatementTimeoutWithoutStartupOptions) {
  const std::string direct = shared_pg().create_database();
  PgBouncer bouncer(
      {.server_port = shared_pg().port(), .pool_mode = "session", .default_pool_size = 8});
  asio::io_context io;
  userservice::telemetry::Logger log(userservice::telemetry::Level::error, stderr);
  pg::Pool pool(io.get_executor(), pool_options(bouncer.dsn(dbname_of(direct)), false), log,
                nullptr);
  run(io, [&]() -> asio::awaitable<void> {
    pg::Result r = co_await pool.query(kShowTimeout, {}, Clock::now() + 5s);
    EXPECT_EQ(r.get(0, 0), "1500ms");
    // Named statements live in the session PgBouncer keeps for this client.
    for (int i = 0; i < 3; ++i) {
      pg::Result one = co_await pool.query(kAddOne, {std::to_string(i)}, Clock::now() + 5s);
      EXPECT_EQ(one.get(0, 0), std::to_string(i + 1));
    }
    pg::Result prepared = co_await pool.query(kPrepared, {}, Clock::now() + 5s);
    EXPECT_GE(std::stoi(std::string(prepared.get(0, 0))), 3);
  });
}

TEST(PgBouncerPool, TransactionModeSetsTheTimeoutPerTransactionAndLeavesNoSessionState) {
  const std::string direct = shared_pg().create_database();
  const std::string db = dbname_of(direct);
  PgBouncer bouncer(
      {.server_port = shared_pg().port(), .pool_mode = "transaction", .default_pool_size = 2});
  asio::io_context io;
  userservice::telemetry::Logger log(userservice::telemetry::Level::error, stderr);
  pg::Pool pool(io.get_executor(), pool_options(bouncer.dsn(db), true), log, nullptr);
  std::atomic<int> ok{0}, failed{0};
  run(io, [&]() -> asio::awaitable<void> {
    // 8 pool connections, 2 server sessions: PgBouncer moves every transaction to whichever
    // session is free. With named statements this fails ("prepared statement ... does not
    // exist"); unnamed ones cannot.
    auto worker = [&](int w) -> asio::awaitable<void> {
      for (int i = 0; i < 50; ++i) {
        try {
          pg::Result t = co_await pool.query(kShowTimeout, {}, Clock::now() + 5s);
          pg::Result one =
              co_await pool.query(kAddOne, {std::to_string(w * 1000 + i)}, Clock::now() + 5s);
          const bool right =
              t.get(0, 0) == "1500ms" && one.get(0, 0) == std::to_string(w * 1000 + i + 1);
          ++(right ? ok : failed);
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failed;
        }
      }
    };
    int finished = 0;
    for (int w = 0; w < 8; ++w) {
      asio::co_spawn(
          co_await asio::this_coro::executor,
          [&, w]() -> asio::awaitable<void> {
            co_await worker(w);
            ++finished;
          },
          asio::detached);
    }
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (finished < 8) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    // Nothing prepared by name on the server sessions the pool used.
    pg::Result prepared = co_await pool.query(kPrepared, {}, Clock::now() + 5s);
    EXPECT_EQ(prepared.get(0, 0), "0");

    // The server ends a statement at the operation timeout even when the client is gone: the
    // per-transaction statement_timeout, not only the pool's own timer.
    std::optional<userservice::domain::Error> err;
    try {
      co_await pool.query(kSleep, {"5"}, Clock::now() + 10s);
    } catch (const userservice::domain::Error& e) {
      err = e;
    }
    EXPECT_TRUE(err && err->code() == userservice::domain::ErrorCode::service_unavailable);
  });
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(server_sessions(bouncer, db), 2u);
  // No pg_sleep left running on any server session once the timeout passed.
  EXPECT_TRUE(eventually(
      [&] {
        return shared_pg()
                   .query(direct,
                          "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                          "'SELECT pg_sleep%' AND state = 'active'")
                   .at(0)
                   .at(0) == "0";
      },
      3s));
  // A plain client of the same pooler sees the server's default: the service's timeout did not
  // stick to a server session.
  EXPECT_EQ(shared_pg().query(bouncer.dsn(db), "SHOW statement_timeout").at(0).at(0), "0");
}

TEST(PgBouncer, SessionModeServesTheServiceAsIs) {
  const std::string direct = shared_pg().create_database();
  const std::string db = dbname_of(direct);
  PgBouncer bouncer(
      {.server_port = shared_pg().port(), .pool_mode = "session", .default_pool_size = 30});
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st), bouncer.dsn(db));
  ASSERT_TRUE(s.process->running()) << s.process->stdout_text();
  const auto a = create_account(s);
  const std::string name = fresh_name();
  EXPECT_EQ(rename(s, a.user_id, name).status, 200);
  EXPECT_EQ(get_account(s, a.user_id).status, 200);
  // The relay (advisory-lock leadership) works through the session pooler too.
  expect_outbox_drains(s);
  const auto renames = user_entries(shared_redis(), st.domain, "domain", a.user_id);
  ASSERT_EQ(renames.size(), 1u);
  EXPECT_EQ(str(renames[0].payload, "user_name"), name);
  EXPECT_GT(server_sessions(bouncer, db), 0u) << "the service did not go through PgBouncer";
  expect_alive(s);
}

TEST(PgBouncer, TransactionModeServesManyRequestsOnFewServerConnectionsWithEventsInOrder) {
  const std::string direct = shared_pg().create_database();
  const std::string db = dbname_of(direct);
  PgBouncer bouncer(
      {.server_port = shared_pg().port(), .pool_mode = "transaction", .default_pool_size = 3});
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st, {{"USERSERVICE_POSTGRES_POOLING", "transaction"},
                                         {"USERSERVICE_POSTGRES_SESSION_DSN", direct},
                                         {"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "12"}}),
                         bouncer.dsn(db));
  ASSERT_TRUE(s.process->running()) << s.process->stdout_text();

  // Eight clients: each creates accounts, renames them, reads them and asks eligibility.
  std::mutex mu;
  std::map<unsigned, int> statuses;
  std::map<std::string, std::vector<std::string>> acked;  // user -> names, in order
  std::map<std::string, std::string> first_name;
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(s.port);
      for (int i = 0; i < 6; ++i) {
        auto created = c.request("POST", kApi + "/users/ensure-by-email",
                                 json_str({{"email", unique_email("bouncer")}}));
        std::lock_guard lock(mu);
        ++statuses[created.status];
        if (created.status != 201 && created.status != 200) continue;
        const std::string user = str(body_json(created), "user_id");
        first_name[user] = initial_user_name(s, user);
        for (int k = 0; k < 3; ++k) {
          const std::string name = fresh_name();
          auto r = rename_on(c, user, name);
          ++statuses[r.status];
          if (r.status == 200) acked[user].push_back(name);
          ++statuses[c.request("GET", kApi + "/users/" + user + "/account").status];
          ++statuses[c.request("GET", kApi + "/users/" + user + "/eligibility").status];
        }
        (void)t;
      }
    });
  }
  for (auto& c : clients) c.join();
  for (const auto& [status, n] : statuses) {
    EXPECT_TRUE(status == 200 || status == 201) << n << " answers with status " << status;
  }
  EXPECT_EQ(acked.size(), 48u);
  EXPECT_LE(server_sessions(bouncer, db), 3u);

  // Migrations ran on the session DSN; the relay led from there too: every event, in order.
  expect_outbox_drains(s);
  for (const auto& [user, names] : acked) {
    SCOPED_TRACE(user);
    const auto renames = user_entries(shared_redis(), st.domain, "domain", user);
    EXPECT_EQ(duplicates(renames), 0u);
    expect_rename_chain(renames, first_name[user], names);
  }
  EXPECT_NE(s.process->stdout_text().find("\"pooling\":\"transaction\""), std::string::npos);

  // Idempotency-Key requests run in one explicit transaction over several round trips; a
  // replay rolls back an aborted transaction and reads the stored answer on the same session.
  const std::map<std::string, std::string> key{{"Idempotency-Key", "bouncer-" + fresh_name()}};
  const std::string email = unique_email("bouncer-key");
  const auto first =
      s.call("POST", kApi + "/users/ensure-by-email", json_str({{"email", email}}), key);
  EXPECT_EQ(first.status, 201) << first.body;
  for (int i = 0; i < 3; ++i) {
    const auto again =
        s.call("POST", kApi + "/users/ensure-by-email", json_str({{"email", email}}), key);
    EXPECT_EQ(again.status, 201);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.header("idempotent-replayed"), "true");
  }
  const auto other = s.call("POST", kApi + "/users/ensure-by-email",
                            json_str({{"email", unique_email("bouncer-key")}}), key);
  EXPECT_EQ(other.status, 409) << other.body;
  expect_alive(s);
}

TEST(PgBouncer, TransactionPoolingWithoutASessionDsnIsRefusedAtStartInOneLine) {
  ServiceProcess p(USERSERVICE_BINARY,
                   service_env(shared_pg().create_database(), free_loopback_port(),
                               {{"USERSERVICE_POSTGRES_POOLING", "transaction"}}));
  p.start();
  const auto code = p.wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(p.stderr_text().find("USERSERVICE_POSTGRES_SESSION_DSN"), std::string::npos)
      << p.stderr_text() << p.stdout_text();
}

// `userservice migrate` takes its advisory lock on the session DSN, not through the pooler.
TEST(PgBouncer, MigrateCommandUsesTheSessionDsn) {
  const std::string direct = shared_pg().create_database();
  // The primary DSN leads nowhere: only the session DSN can have done the work.
  auto env = service_env("host=127.0.0.1 port=1 user=postgres dbname=nowhere connect_timeout=2",
                         free_loopback_port(),
                         {{"USERSERVICE_POSTGRES_POOLING", "transaction"},
                          {"USERSERVICE_POSTGRES_SESSION_DSN", direct}});
  ServiceProcess p(USERSERVICE_BINARY, env);
  p.set_args({"migrate"});
  p.start();
  const auto code = p.wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << p.stderr_text() << p.stdout_text();
  EXPECT_GT(
      std::stoi(
          shared_pg().query(direct, "SELECT count(*) FROM \"user\".schema_migrations").at(0).at(0)),
      0);
}
