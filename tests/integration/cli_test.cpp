// The binary as a Unix service binary (README, "Command line"): --help, --version,
// --check-config, migrate [--status], usage errors, SIGHUP, and the identity on log lines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <regex>
#include <thread>

#include "adapters/postgres/migrations.h"
#include "common/utf8.h"
#include "integration/service_fixture.h"

using namespace userservice::testing;
using namespace std::chrono_literals;

namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Outcome run_binary(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  ServiceProcess p(USERSERVICE_BINARY, std::move(env));
  p.set_args(std::move(args));
  p.start();
  Outcome o;
  auto code = p.wait_exit(60s);
  EXPECT_TRUE(code.has_value()) << "did not exit";
  if (code) o.exit_code = *code;
  o.out = p.stdout_text();
  o.err = p.stderr_text();
  return o;
}

// A TCP listener that counts the connections it accepts (stands in for Redis and PostgreSQL
// where a command must not touch them).
class CountingListener {
 public:
  CountingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (stop_) {
          ::close(c);
          return;
        }
        ++accepted_;
        ::close(c);
      }
    });
  }
  ~CountingListener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace

TEST(Cli, VersionNamesVersionCommitAndBuildTypeAndNeedsNoConfiguration) {
  auto o = run_binary({"--version"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(std::regex_match(
      o.out,
      std::regex(
          R"(userservice \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}(\+dirty)?|unknown), \w+\)\n)")))
      << o.out;
  EXPECT_EQ(o.err, "");
}

TEST(Cli, HelpPrintsUsageOnStdout) {
  for (const char* flag : {"--help", "-h"}) {
    auto o = run_binary({flag});
    EXPECT_EQ(o.exit_code, 0) << flag;
    EXPECT_EQ(o.out.rfind("usage: userservice", 0), 0u) << o.out;
    EXPECT_NE(o.out.find("--check-config"), std::string::npos);
    EXPECT_NE(o.out.find("migrate --status"), std::string::npos);
  }
}

TEST(Cli, UnknownArgumentsAreUsageErrorsAndStartNothing) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--verison"}, {"serve"}, {"--version", "x"}, {"migrate", "--force"}, {"\xff"}}) {
    CountingListener pg;
    auto o = run_binary(
        args,
        {{"USERSERVICE_REDIS_MASTER_ADDR", "127.0.0.1:" + std::to_string(pg.port())},
         {"USERSERVICE_REDIS_PASSWORD", ""},
         {"USERSERVICE_POSTGRES_PRIMARY_DSN", "host=127.0.0.1 port=" + std::to_string(pg.port())}});
    EXPECT_EQ(o.exit_code, 2) << args[0];
    EXPECT_EQ(o.out, "");
    EXPECT_NE(o.err.find("usage: userservice"), std::string::npos) << o.err;
    EXPECT_EQ(pg.accepted(), 0);
  }
}

TEST(Cli, CheckConfigValidatesWithoutConnectingToAnything) {
  CountingListener redis, pg;
  std::map<std::string, std::string> env = {
      {"USERSERVICE_REDIS_MASTER_ADDR", "127.0.0.1:" + std::to_string(redis.port())},
      {"USERSERVICE_REDIS_PASSWORD", "x"},
      {"USERSERVICE_POSTGRES_PRIMARY_DSN", "host=127.0.0.1 port=" + std::to_string(pg.port())},
      {"USERSERVICE_POSTGRES_REPLICA_DSNS", "host=127.0.0.1 port=" + std::to_string(pg.port())},
      {"OTEL_TRACES_EXPORTER", "otlp"},
  };
  auto ok = run_binary({"--check-config"}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "userservice: configuration is valid\n");

  // Each kind of error startup refuses: named, exit 2.
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "forever"},
           {"USERSERVICE_POSTGRES_PRIMARY_DSN", "host=x port"},
           {"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "0"},
           {"USERSERVICE_LOG_LEVEL", "loud\xff"},
           {"OTEL_TRACES_EXPORTER", "zipkin"}}) {
    auto bad = env;
    bad[name] = value;
    auto o = run_binary({"--check-config"}, bad);
    EXPECT_EQ(o.exit_code, 2) << name;
    EXPECT_NE(o.err.find(name), std::string::npos) << o.err;
    EXPECT_TRUE(userservice::is_valid_utf8(o.err)) << o.err;
  }
  auto missing = env;
  missing.erase("USERSERVICE_REDIS_MASTER_ADDR");
  auto o = run_binary({"--check-config"}, missing);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("USERSERVICE_REDIS_MASTER_ADDR"), std::string::npos) << o.err;
  EXPECT_EQ(redis.accepted(), 0);
  EXPECT_EQ(pg.accepted(), 0);
}

TEST(Cli, MigrateAppliesEverythingOnceAndStatusListsIt) {
  const std::string dsn = shared_pg().create_database();
  const auto env = service_env(dsn, free_loopback_port());
  const int known = static_cast<int>(userservice::postgres::embedded_migrations().size());

  auto before = run_binary({"migrate", "--status"}, env);
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find(std::to_string(known) + " pending\n"), std::string::npos) << before.out;
  EXPECT_EQ(before.out.find("applied "), std::string::npos) << before.out;
  // Reading the status created nothing.
  EXPECT_EQ(
      shared_pg().query(dsn, "SELECT to_regclass('\"user\".schema_migrations') IS NULL")[0][0],
      "t");

  auto first = run_binary({"migrate"}, env);
  EXPECT_EQ(first.exit_code, 0) << first.err << first.out;
  EXPECT_NE(first.out.find("\"msg\":\"database migrations done\""), std::string::npos) << first.out;
  EXPECT_EQ(shared_pg().query(dsn, "SELECT count(*) FROM \"user\".schema_migrations")[0][0],
            std::to_string(known));
  auto again = run_binary({"migrate"}, env);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"applied\":0"), std::string::npos) << again.out;

  auto after = run_binary({"migrate", "--status"}, env);
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(after.out.find("\n0 pending\n"), std::string::npos) << after.out;
  EXPECT_EQ(after.out.find(" pending  "), std::string::npos) << after.out;
  EXPECT_TRUE(std::regex_search(
      after.out, std::regex(R"(\n1 +0001_\S+ +applied +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)")))
      << after.out;

  // A schema from a newer binary: migrate refuses (exit 1), the status names the stranger.
  shared_pg().query(
      dsn, "INSERT INTO \"user\".schema_migrations (version, name) VALUES (9999, '9999_future')");
  auto newer = run_binary({"migrate"}, env);
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_NE(newer.err.find("newer than the newest this binary knows"), std::string::npos)
      << newer.err;
  auto status = run_binary({"migrate", "--status"}, env);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_TRUE(std::regex_search(status.out, std::regex(R"(\n9999 +9999_future +unknown )")))
      << status.out;
}

TEST(Cli, MigrateAgainstAnUnreachableDatabaseFailsWithExitOne) {
  CountingListener redis;
  const int dead = free_loopback_port();
  auto env = service_env("host=127.0.0.1 port=" + std::to_string(dead) + " connect_timeout=2",
                         free_loopback_port());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"migrate"}, {"migrate", "--status"}}) {
    auto o = run_binary(args, env);
    EXPECT_EQ(o.exit_code, 1) << args.size();
    EXPECT_NE(o.err.find("userservice: "), std::string::npos) << o.err;
  }
}

TEST(Cli, SighupIsLoggedAndIgnoredAndEveryLineCarriesServiceAndVersion) {
  auto s = start_service();
  ASSERT_TRUE(s.process->running());
  for (int i = 0; i < 3; ++i) {
    s.process->signal(SIGHUP);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(s.process->running());
  auto r = s.call("GET", "/api/v1/internal/users/user-nobody/exists");
  EXPECT_EQ(r.status, 200);
  const std::string out = s.process->stdout_text();
  std::size_t hups = 0;
  for (std::size_t at = out.find("SIGHUP ignored"); at != std::string::npos;
       at = out.find("SIGHUP ignored", at + 1)) {
    ++hups;
  }
  EXPECT_EQ(hups, 3u) << out;
  s.process->signal(SIGTERM);
  EXPECT_EQ(s.process->wait_exit(20s), 0);
  // Every line names the service and the version --version prints.
  const std::string version =
      run_binary({"--version"}).out.substr(std::string("userservice ").size());
  const std::string expected =
      ",\"service\":\"userservice\",\"version\":\"" + version.substr(0, version.find(' ')) + "\"";
  std::size_t lines = 0;
  std::size_t start = 0;
  const std::string all = s.process->stdout_text();
  while (start < all.size()) {
    const std::size_t nl = all.find('\n', start);
    const std::string line = all.substr(start, nl - start);
    EXPECT_NE(line.find(expected), std::string::npos) << line;
    ++lines;
    start = nl == std::string::npos ? all.size() : nl + 1;
  }
  EXPECT_GT(lines, 5u);
}
