// Resource exhaustion from outside: a stdout nobody reads. The service must keep serving,
// say what it dropped, and resume logging when the reader does.
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include "integration/service_fixture.h"
#include "support/process_util.h"

using namespace userservice::testing;
using namespace std::chrono_literals;

namespace {

double metric(const std::string& text, const std::string& sample) {
  const auto at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + sample.size() + 2));
}

// The real binary with its stdout on a pipe the test controls.
struct PipedService {
  int port = free_loopback_port();
  int admin_port = free_loopback_port();
  int read_end = -1;
  pid_t pid = 0;
  std::string dir = detail::make_temp_dir("userservice-piped-");

  explicit PipedService(std::map<std::string, std::string> extra) {
    auto env = service_env(shared_pg().create_database(), port, extra);
    env["USERSERVICE_ADMIN_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(admin_port);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read_end = fds[0];
    detail::SpawnOptions o;
    o.argv = {USERSERVICE_BINARY};
    std::vector<std::string> vars;
    for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
    vars.push_back("PATH=/usr/bin:/bin");
    o.env = vars;
    o.stdout_fd = fds[1];
    o.stderr_path = dir + "/stderr";
    o.death_signal = SIGKILL;
    pid = detail::spawn(o);
    ::close(fds[1]);
  }
  ~PipedService() {
    if (pid > 0) detail::terminate(pid, SIGKILL, 0ms);
    if (read_end >= 0) ::close(read_end);
    detail::remove_tree(dir);
  }
};

}  // namespace

// Stdout is a pipe whose reader stalls (a stuck log shipper). Logging happens on the event loop
// but never waits for the pipe: the service answers thousands of requests (each logged) while
// the pipe stays full, counts the lines it had to drop, and logs again once the reader resumes.
TEST(ResourceLimits, StdoutNobodyReadsNeverStopsTheService) {
  PipedService svc(std::map<std::string, std::string>{{"USERSERVICE_LOG_LEVEL", "debug"}});
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = detail::can_connect(svc.port);
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up) << detail::read_file(svc.dir + "/stderr");

  // Each request logs about 2.5 KB (a long path in the access line and the debug line): past
  // the 64 KiB pipe and the logger's 4 MiB queue well within these requests.
  const std::string path = "/api/v1/internal/no-such-route/" + std::string(1200, 'x');
  HttpClient client(svc.port);
  constexpr int kRequests = 3000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i) {
    auto r = client.request("GET", path);
    ASSERT_EQ(r.status, 404u) << "request " << i;
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ logging  ] " << kRequests << " requests with stdout stalled in " << took
            << " s\n";
  const std::string text = http(svc.admin_port, "GET", "/metrics").body;
  EXPECT_GT(metric(text, "userservice_log_lines_dropped_total"), 0) << text.substr(0, 2000);

  // The reader resumes: what is queued drains, and new requests are logged again.
  std::atomic<bool> stop{false};
  std::string out;
  std::mutex mu;
  std::thread reader([&] {
    char buf[65536];
    while (!stop) {
      ssize_t n = ::read(svc.read_end, buf, sizeof buf);
      if (n <= 0) break;
      std::lock_guard lock(mu);
      out.append(buf, static_cast<std::size_t>(n));
    }
  });
  std::this_thread::sleep_for(500ms);
  const std::string marker = "after-the-reader-resumed-42";
  auto r =
      client.request("GET", "/api/v1/internal/users/u1/exists", "", {{"X-Request-Id", marker}});
  EXPECT_EQ(r.status, 200u);
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    {
      std::lock_guard lock(mu);
      seen = out.find(marker) != std::string::npos;
    }
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(seen) << "logging did not resume";
  stop = true;
  detail::terminate(svc.pid, SIGTERM, 5s);
  svc.pid = 0;
  reader.join();
  // Every line that made it out is whole JSON (dropped lines are dropped whole).
  std::size_t lines = 0;
  for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string line = out.substr(at, nl - at);
    boost::system::error_code ec;
    boost::json::parse(line, ec);
    EXPECT_FALSE(ec) << line.substr(0, 200);
    if (ec) break;
    ++lines;
  }
  EXPECT_GT(lines, 100u);
}

namespace {

std::string stream_key(const std::string& tag) {
  return "limits:" + std::to_string(getpid()) + ":" + tag;
}

}  // namespace

// A descriptor limit of 256 (prlimit), and 300 clients that each make a request and then sit
// idle on their keep-alive connection. The internal listener's cap (derived from the limit,
// keeping a reserve for the pool, the relay, Redis and OTLP) makes room by closing the
// longest-idle connections: every client's request succeeds, and a write through a new
// client still gets a database connection and its event still reaches Redis.
TEST(ResourceLimits, IdleClientsAtALowDescriptorLimitNeverStarveThePoolOrTheRelay) {
  const std::string dsn = shared_pg().create_database();
  const int port = free_loopback_port();
  const int admin_port = free_loopback_port();
  auto env =
      service_env(dsn, port,
                  {{"USERSERVICE_ADMIN_HTTP_ADDR", "127.0.0.1:" + std::to_string(admin_port)},
                   {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", stream_key("lifecycle")},
                   {"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", stream_key("domain")},
                   {"USERSERVICE_INTERNAL_HTTP_IDLE_TIMEOUT", "10m"}});
  const std::string dir = detail::make_temp_dir("userservice-nofile-");
  detail::SpawnOptions o;
  o.argv = {"prlimit", "--nofile=256:256", USERSERVICE_BINARY};
  std::vector<std::string> vars;
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  vars.push_back("PATH=/usr/bin:/bin");
  o.env = vars;
  o.stdout_path = dir + "/out";
  o.death_signal = SIGKILL;
  const pid_t pid = detail::spawn(o);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = detail::read_file(dir + "/out").find("\"msg\":\"listening\"") != std::string::npos;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up) << detail::read_file(dir + "/out");
  const std::string log = detail::read_file(dir + "/out");
  EXPECT_NE(log.find("\"soft_limit\":256"), std::string::npos) << log;

  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 300; ++i) {
    auto c = std::make_unique<HttpClient>(port);
    auto r = c->request("GET", "/api/v1/internal/users/u" + std::to_string(i) + "/exists");
    ASSERT_EQ(r.status, 200u) << "client " << i << ": " << r.body;
    idle.push_back(std::move(c));
  }
  // A write through a new client: the pool still gets its connection, the relay publishes.
  const std::string email = "nofile." + std::to_string(getpid()) + "@example.com";
  auto created = http(port, "POST", "/api/v1/internal/users/ensure-by-email",
                      R"({"email":")" + email + R"("})");
  ASSERT_EQ(created.status, 201u) << created.body;
  bool published = false;
  for (int i = 0; i < 100 && !published; ++i) {
    published = shared_redis().command({"XLEN", stream_key("lifecycle")}).at(0) == "1";
    if (!published) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(published) << detail::tail_lines(detail::read_file(dir + "/out"), 20);
  const std::string text = http(admin_port, "GET", "/metrics").body;
  EXPECT_GT(metric(text, "http_server_connections_evicted_total{server=\"internal\"}"), 0)
      << text.substr(0, 3000);
  EXPECT_EQ(metric(text, "process_max_fds"), 256);
  idle.clear();
  detail::terminate(pid, SIGTERM, 5s);
  detail::remove_tree(dir);
}

// With every connection busy (each has sent half a request) a new one is answered 503 and
// closed, instead of waiting in the backlog; once one finishes, a new client is served.
TEST(ResourceLimits, EveryConnectionBusyAtTheCapMeans503ForTheNextOne) {
  auto s = start_service({{"USERSERVICE_INTERNAL_HTTP_MAX_CONNECTIONS", "4"},
                          {"USERSERVICE_INTERNAL_HTTP_READ_HEADER_TIMEOUT", "20s"},
                          {"USERSERVICE_INTERNAL_HTTP_READ_TIMEOUT", "20s"}});
  std::vector<std::unique_ptr<HttpClient>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(std::make_unique<HttpClient>(s.port));
    busy.back()->send_raw("GET /api/v1/internal/users/u1/exists HTTP/1.1\r\nHost: x\r\n");
  }
  std::this_thread::sleep_for(200ms);
  auto refused = s.call("GET", "/api/v1/internal/users/u1/exists");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_EQ(refused.header("x-request-id").size(), 32u);  // every response has one
  boost::system::error_code ec;
  auto body = boost::json::parse(refused.body, ec);
  ASSERT_FALSE(ec) << refused.body;
  EXPECT_EQ(body.at("error").at("code").as_string(), "service_unavailable");
  // One busy client finishes its request (and stays connected, idle): room again.
  busy[0]->send_raw("\r\n");
  auto done = busy[0]->read_response(5s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, 200u);
  EXPECT_EQ(s.call("GET", "/api/v1/internal/users/u1/exists").status, 200u);
}
