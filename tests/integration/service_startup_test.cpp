// The process as docs/design.md describes it: configuration errors, fail-fast wiring,
// migrations, and what the listeners do before any business route is involved.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "integration/service_fixture.h"

using namespace userservice::testing;
using namespace std::chrono_literals;

namespace {

// Starts the binary with `env` and expects it to exit without ever listening.
struct FailedStart {
  int exit_code = -1;
  std::string stderr_text;
  std::string stdout_text;
  std::chrono::milliseconds took{};
};

FailedStart expect_failed_start(std::map<std::string, std::string> env, int port) {
  ServiceProcess p(USERSERVICE_BINARY, std::move(env));
  auto t0 = std::chrono::steady_clock::now();
  p.start();
  auto code = p.wait_exit(20s);
  FailedStart out;
  out.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_TRUE(code.has_value()) << "service did not exit";
  if (!code) return out;
  out.exit_code = *code;
  out.stderr_text = p.stderr_text();
  out.stdout_text = p.stdout_text();
  // It never listened: nothing accepts on its port, and it never logged "listening".
  EXPECT_EQ(out.stdout_text.find("\"listening\""), std::string::npos) << out.stdout_text;
  (void)port;
  return out;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST(Startup, EachMissingRequiredVariableIsNamedAndNothingListens) {
  std::string dsn = shared_pg().dsn();
  for (const char* name : {"USERSERVICE_REDIS_MASTER_ADDR", "USERSERVICE_REDIS_PASSWORD",
                           "USERSERVICE_POSTGRES_PRIMARY_DSN"}) {
    int port = free_loopback_port();
    auto r = expect_failed_start(service_env(dsn, port, {{name, "<unset>"}}), port);
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_EQ(count_lines(r.stderr_text), 1) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(name), std::string::npos) << r.stderr_text;
  }
}

TEST(Startup, RetiredRedisVariablesAreStartupErrors) {
  std::string dsn = shared_pg().dsn();
  for (const char* name : {"USERSERVICE_REDIS_ADDR", "USERSERVICE_REDIS_USERNAME",
                           "USERSERVICE_REDIS_TLS_ENABLED", "USERSERVICE_REDIS_KEYSPACE_PREFIX"}) {
    int port = free_loopback_port();
    auto r = expect_failed_start(service_env(dsn, port, {{name, "x"}}), port);
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_EQ(count_lines(r.stderr_text), 1) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(name), std::string::npos) << r.stderr_text;
  }
}

TEST(Startup, MalformedValuesAreStartupErrors) {
  std::string dsn = shared_pg().dsn();
  const std::pair<const char*, const char*> cases[] = {
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "5"},
      {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "3 s"},
      {"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "many"},
      {"USERSERVICE_LOG_LEVEL", "loud"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
  };
  for (auto [name, value] : cases) {
    int port = free_loopback_port();
    auto r = expect_failed_start(service_env(dsn, port, {{name, value}}), port);
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_EQ(count_lines(r.stderr_text), 1) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(name), std::string::npos) << r.stderr_text;
  }
}

TEST(Startup, UnreachablePostgresEndsTheProcessWithinSeconds) {
  int port = free_loopback_port();
  int dead = free_loopback_port();  // nothing listens there
  auto r = expect_failed_start(
      service_env("host=127.0.0.1 port=" + std::to_string(dead) + " user=postgres dbname=postgres",
                  port),
      port);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("postgres"), std::string::npos) << r.stderr_text;
  EXPECT_LT(r.took, 8s);
}

TEST(Startup, UnreachableRedisEndsTheProcessWithinSeconds) {
  int port = free_loopback_port();
  int dead = free_loopback_port();
  auto r = expect_failed_start(
      service_env(shared_pg().dsn(), port,
                  {{"USERSERVICE_REDIS_MASTER_ADDR", "127.0.0.1:" + std::to_string(dead)}}),
      port);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("redis"), std::string::npos) << r.stderr_text;
  EXPECT_LT(r.took, 8s);
}

TEST(Startup, WrongRedisPasswordIsAStartupError) {
  int port = free_loopback_port();
  auto r = expect_failed_start(
      service_env(shared_pg().dsn(), port, {{"USERSERVICE_REDIS_PASSWORD", "not-the-password"}}),
      port);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("redis"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("AUTH"), std::string::npos) << r.stderr_text;
}

TEST(Startup, RedisDbIsSelected) {
  int port = free_loopback_port();
  auto r = expect_failed_start(
      service_env(shared_pg().dsn(), port, {{"USERSERVICE_REDIS_DB", "4000"}}), port);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("SELECT"), std::string::npos) << r.stderr_text;
}

TEST(Startup, AdminAddressInUseFailsBeforeServing) {
  // Occupy a port, then ask the admin listener to bind it.
  int busy_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(busy_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(busy_fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(busy_fd, reinterpret_cast<sockaddr*>(&a), &len);
  int busy_port = ntohs(a.sin_port);
  int port = free_loopback_port();
  auto r = expect_failed_start(
      service_env(shared_pg().create_database(), port,
                  {{"USERSERVICE_ADMIN_HTTP_ADDR", "127.0.0.1:" + std::to_string(busy_port)}}),
      port);
  ::close(busy_fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("admin listener"), std::string::npos) << r.stderr_text;
}

TEST(Startup, AppliesMigrationsAndServes) {
  auto s = start_service();
  auto versions = s.sql(R"(SELECT version FROM "user".schema_migrations ORDER BY version)");
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(versions[0][0], "1");
  // Every table of docs/design.md exists.
  for (const char* table :
       {"accounts", "blocked_emails", "entitlement_records", "entitlement_snapshots",
        "sanction_records", "sanction_active", "limit_records", "limit_active", "event_outbox"}) {
    auto rows = s.sql(std::string("SELECT to_regclass('\"user\".") + table + "') IS NOT NULL");
    EXPECT_EQ(rows.at(0).at(0), "t") << table;
  }
  auto r = s.call("GET", "/api/v1/internal/users/user-nobody/exists");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, R"({"exists":false})");
}

TEST(Startup, SeveralInstancesMigratingOneDatabaseAtOnceAllStart) {
  std::string dsn = shared_pg().create_database();
  std::vector<std::unique_ptr<ServiceProcess>> procs;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(free_loopback_port());
    procs.push_back(
        std::make_unique<ServiceProcess>(USERSERVICE_BINARY, service_env(dsn, ports.back())));
  }
  for (auto& p : procs) p->start();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(procs[i]->wait_listening(ports[i], 20s)) << procs[i]->stderr_text();
  }
  auto applied = shared_pg().query(dsn, R"(SELECT count(*) FROM "user".schema_migrations)");
  auto files = shared_pg().query(dsn, R"(SELECT max(version) FROM "user".schema_migrations)");
  EXPECT_EQ(applied[0][0], files[0][0]);  // each version recorded once
}

TEST(Startup, RefusesADatabaseMigratedByANewerBinary) {
  std::string dsn = shared_pg().create_database();
  { auto s = start_service({}, dsn); }
  shared_pg().query(
      dsn, R"(INSERT INTO "user".schema_migrations(version, name) VALUES (9999, 'future'))");
  int port = free_loopback_port();
  auto r = expect_failed_start(service_env(dsn, port), port);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("9999"), std::string::npos) << r.stderr_text;
}

TEST(Shutdown, SigtermExitsZeroAndLogsIt) {
  auto s = start_service();
  EXPECT_EQ(s.call("GET", "/api/v1/internal/users/u1/exists").status, 200u);
  s.process->signal(SIGTERM);
  auto code = s.process->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << s.process->stderr_text();
  EXPECT_NE(s.process->stdout_text().find("\"stopped\""), std::string::npos);
}

TEST(Shutdown, SigintAlsoShutsDownGracefully) {
  auto s = start_service();
  s.process->signal(SIGINT);
  auto code = s.process->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(Shutdown, InFlightRequestFinishesAndNewConnectionsAreRefused) {
  auto s = start_service({{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "5s"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "5s"},
                          {"USERSERVICE_SHUTDOWN_TIMEOUT", "5s"}});
  // Hold a lock so the request's query waits inside PostgreSQL.
  std::thread locker([&] {
    shared_pg().query(s.dsn, R"(BEGIN; LOCK TABLE "user".accounts IN ACCESS EXCLUSIVE MODE;
                                SELECT pg_sleep(1.5); COMMIT;)");
  });
  std::this_thread::sleep_for(300ms);
  HttpClient c(s.port);
  c.send_raw("GET /api/v1/internal/users/u1/exists HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  s.process->signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  // The listener is closed: a new connection is refused.
  EXPECT_THROW(HttpClient{s.port}, std::system_error);
  auto r = c.read_response(5s);
  locker.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"exists":false})");
  auto code = s.process->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(Shutdown, GivesUpOnRequestsStillRunningAtTheShutdownTimeout) {
  auto s = start_service({{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "20s"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "20s"},
                          {"USERSERVICE_SHUTDOWN_TIMEOUT", "500ms"}});
  std::thread locker([&] {
    shared_pg().query(s.dsn, R"(BEGIN; LOCK TABLE "user".accounts IN ACCESS EXCLUSIVE MODE;
                                SELECT pg_sleep(4); COMMIT;)");
  });
  std::this_thread::sleep_for(300ms);
  HttpClient c(s.port);
  c.send_raw("GET /api/v1/internal/users/u1/exists HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  auto t0 = std::chrono::steady_clock::now();
  s.process->signal(SIGTERM);
  auto code = s.process->wait_exit(10s);
  auto took = std::chrono::steady_clock::now() - t0;
  locker.join();
  ASSERT_TRUE(code.has_value());
  EXPECT_LT(took, 3s);
}

// A start-up step after the listeners opened fails (here: the relay's thread cannot be
// created, as under a thread limit; injected with an LD_PRELOAD shim, the binary has no test
// hooks). The process must not linger half-started, answering 503s: it stops the way SIGTERM
// stops it, and exits 1 with the "startup failed" line.
TEST(Startup, FailureAfterTheListenersOpenedStopsGracefullyWithExitCode1) {
  const std::string dsn = shared_pg().create_database();
  const int port = free_loopback_port();
  auto env = service_env(dsn, port, {{"USERSERVICE_SHUTDOWN_TIMEOUT", "2s"}});
  env["LD_PRELOAD"] = USERSERVICE_FAULT_SHIM;
  env["FAULT_PTHREAD_CREATE_AFTER_LISTEN"] = "1";
  // Under AddressSanitizer the shim comes before the ASan runtime in the library list.
  env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0";
  ServiceProcess p(USERSERVICE_BINARY, env);
  const auto t0 = std::chrono::steady_clock::now();
  p.start();
  auto code = p.wait_exit(15s);
  ASSERT_TRUE(code.has_value()) << "still running after a failed start\n" << p.stdout_text();
  EXPECT_EQ(*code, 1) << p.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  EXPECT_NE(p.stderr_text().find("startup failed: outbox relay"), std::string::npos)
      << p.stderr_text();
  const std::string out = p.stdout_text();
  EXPECT_NE(out.find("startup failed after the listeners opened; shutting down"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"msg\":\"shutting down\""), std::string::npos) << out;
  EXPECT_FALSE(detail::can_connect(port)) << "the listener is closed";
}
