// Proves the integration-test support library itself: throwaway PostgreSQL and Redis servers,
// the child-process wrapper and the raw HTTP client. Needs no service binary.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/servers.h"
#include "support/service.h"

namespace {

using namespace std::chrono_literals;
using userservice::testing::HttpClient;
using userservice::testing::PgServer;
using userservice::testing::RedisReply;
using userservice::testing::RedisServer;
using userservice::testing::ServiceProcess;
using Row = std::vector<std::string>;
using Strings = std::vector<std::string>;

bool path_exists(const std::string& p) { return std::filesystem::exists(p); }

// ---------------------------------------------------------------------------------------------
// PostgreSQL

TEST(SupportPg, SharedServerRunsQueries) {
  auto& pg = userservice::testing::shared_pg();
  EXPECT_TRUE(pg.running());
  auto rows = pg.query(pg.dsn(), "SELECT 1, NULL::text, 'x y'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"1", "<null>", "x y"}));
  EXPECT_TRUE(pg.query(pg.dsn(), "SELECT 1 WHERE false").empty());
  EXPECT_EQ(pg.query(pg.dsn(), "SHOW fsync")[0][0], "off");
  EXPECT_THROW(pg.query(pg.dsn(), "SELEC nonsense"), std::runtime_error);
  EXPECT_THROW(pg.query(pg.dsn("no_such_db"), "SELECT 1"), std::runtime_error);
  EXPECT_EQ(&pg, &userservice::testing::shared_pg());
}

TEST(SupportPg, CreateDatabaseGivesIsolatedDatabases) {
  auto& pg = userservice::testing::shared_pg();
  std::string a = pg.create_database();
  std::string b = pg.create_database();
  ASSERT_NE(a, b);
  EXPECT_NE(a.find("port=" + std::to_string(pg.port())), std::string::npos);
  // Multi-statement scripts run; the last statement's rows come back.
  auto rows = pg.query(a,
                       "CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2); "
                       "SELECT v FROM t ORDER BY v");
  EXPECT_EQ(rows, (std::vector<Row>{{"1"}, {"2"}}));
  EXPECT_THROW(pg.query(b, "SELECT * FROM t"), std::runtime_error);
}

TEST(SupportPg, StopAndStartKeepPortAndData) {
  std::string dir;
  {
    PgServer pg;
    dir = pg.dir();
    ASSERT_TRUE(path_exists(dir));
    const int port = pg.port();
    std::string dsn = pg.create_database();
    pg.query(dsn, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives restart')");

    pg.stop();
    EXPECT_FALSE(pg.running());
    EXPECT_THROW(pg.query(dsn, "SELECT 1"), std::runtime_error);
    pg.stop();  // idempotent

    pg.start();
    EXPECT_TRUE(pg.running());
    EXPECT_EQ(pg.port(), port);
    EXPECT_EQ(pg.query(dsn, "SELECT v FROM kept"), (std::vector<Row>{{"survives restart"}}));
  }
  EXPECT_FALSE(path_exists(dir)) << "temp dir left behind: " << dir;
}

// ---------------------------------------------------------------------------------------------
// Redis

// One inline command on a raw socket, to see what a client *without* AUTH gets.
std::string raw_redis(int port, const std::string& line) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  std::string req = line + "\r\n";
  EXPECT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  char buf[512];
  pollfd pfd{fd, POLLIN, 0};
  std::string out;
  if (poll(&pfd, 1, 2000) == 1) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) out.assign(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

TEST(SupportRedis, SharedServerUsesPasswordAndRendersReplies) {
  auto& redis = userservice::testing::shared_redis();
  EXPECT_EQ(redis.password(), "test-secret");
  EXPECT_EQ(redis.addr(), "127.0.0.1:" + std::to_string(redis.port()));
  EXPECT_EQ(redis.command({"PING"}), (Strings{"PONG"}));
  EXPECT_EQ(raw_redis(redis.port(), "PING").rfind("-NOAUTH", 0), 0u);

  redis.command({"DEL", "selftest:k", "selftest:list", "selftest:stream"});
  EXPECT_EQ(redis.command({"SET", "selftest:k", "a value\r\nwith bytes"}), (Strings{"OK"}));
  EXPECT_EQ(redis.command({"GET", "selftest:k"}), (Strings{"a value\r\nwith bytes"}));
  EXPECT_EQ(redis.command({"GET", "selftest:missing"}), (Strings{"<nil>"}));
  EXPECT_EQ(redis.command({"RPUSH", "selftest:list", "a", "b"}), (Strings{"2"}));
  EXPECT_EQ(redis.command({"LRANGE", "selftest:list", "0", "-1"}), (Strings{"a", "b"}));
  EXPECT_TRUE(redis.command({"LRANGE", "selftest:nothing", "0", "-1"}).empty());
  EXPECT_THROW(redis.command({"NOSUCHCOMMAND"}), std::runtime_error);

  auto id = redis.command({"XADD", "selftest:stream", "*", "type", "user.created"});
  ASSERT_EQ(id.size(), 1u);
  EXPECT_EQ(redis.command({"XRANGE", "selftest:stream", "-", "+"}),
            (Strings{id[0], "type", "user.created"}));
  RedisReply tree = redis.command_reply({"XRANGE", "selftest:stream", "-", "+"});
  ASSERT_EQ(tree.type, RedisReply::Type::array);
  ASSERT_EQ(tree.elements.size(), 1u);
  ASSERT_EQ(tree.elements[0].elements.size(), 2u);
  EXPECT_EQ(tree.elements[0].elements[0].str, id[0]);
  EXPECT_EQ(tree.elements[0].elements[1].elements.size(), 2u);
}

TEST(SupportRedis, StopAndStartKeepPort) {
  std::string dir;
  {
    RedisServer redis;  // no password
    dir = redis.dir();
    const int port = redis.port();
    EXPECT_EQ(raw_redis(port, "PING"), "+PONG\r\n");
    redis.stop();
    EXPECT_FALSE(redis.running());
    EXPECT_THROW(redis.command({"PING"}), std::runtime_error);
    redis.stop();  // idempotent
    redis.start();
    EXPECT_TRUE(redis.running());
    EXPECT_EQ(redis.port(), port);
    EXPECT_EQ(redis.command({"PING"}), (Strings{"PONG"}));
    EXPECT_EQ(redis.command({"CONFIG", "GET", "save"}), (Strings{"save", ""}));
  }
  EXPECT_FALSE(path_exists(dir)) << "temp dir left behind: " << dir;
}

// ---------------------------------------------------------------------------------------------
// ServiceProcess, with small shell scripts standing in for the binary

class ScriptFile {
 public:
  explicit ScriptFile(const std::string& body) {
    char tmpl[] = "/tmp/userservice-selftest-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << "#!/bin/sh\n" << body;
    chmod(path_.c_str(), 0755);
  }
  ~ScriptFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SupportService, ExactEnvironmentAndCapturedOutput) {
  ScriptFile script(
      "echo \"out:$FOO:${HOME-unset}:${PATH:+has-path}\"\n"
      "echo err >&2\n"
      "exit 3\n");
  ServiceProcess proc(script.path(), {{"FOO", "bar baz"}});
  proc.start();
  EXPECT_GT(proc.pid(), 0);
  EXPECT_EQ(proc.wait_exit(5s), 3);
  EXPECT_FALSE(proc.running());
  EXPECT_EQ(proc.stdout_text(), "out:bar baz:unset:has-path\n");
  EXPECT_EQ(proc.stderr_text(), "err\n");
  // A restart appends to the same capture files.
  proc.start();
  EXPECT_EQ(proc.wait_exit(5s), 3);
  EXPECT_EQ(proc.stderr_text(), "err\nerr\n");
}

TEST(SupportService, WaitListeningSignalAndExitCode) {
  const int port = userservice::testing::free_loopback_port();
  ScriptFile script("exec redis-server --port \"$PORT\" --bind 127.0.0.1 --save ''\n");
  ServiceProcess proc(script.path(), {{"PORT", std::to_string(port)}});
  proc.start();
  ASSERT_TRUE(proc.wait_listening(port, 10s)) << proc.stdout_text();
  EXPECT_TRUE(proc.running());
  proc.signal(SIGTERM);
  EXPECT_EQ(proc.wait_exit(10s), 0);
  proc.signal(SIGTERM);  // after exit: a no-op, never a stray kill
}

TEST(SupportService, WaitListeningReturnsFalseWhenProcessExits) {
  ScriptFile script("exit 7\n");
  ServiceProcess proc(script.path(), {});
  proc.start();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(proc.wait_listening(userservice::testing::free_loopback_port(), 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(proc.wait_exit(1s), 7);
}

TEST(SupportService, KilledBySignalAndByDestructor) {
  ScriptFile script("exec sleep 30\n");
  pid_t pid = 0;
  {
    ServiceProcess proc(script.path(), {});
    proc.start();
    pid = proc.pid();
    EXPECT_EQ(proc.wait_exit(100ms), std::nullopt);
    EXPECT_TRUE(proc.running());
  }
  EXPECT_NE(kill(pid, 0), 0) << "child survived its ServiceProcess";

  ServiceProcess proc(script.path(), {});
  proc.start();
  proc.signal(SIGKILL);
  EXPECT_EQ(proc.wait_exit(5s), 128 + SIGKILL);
}

TEST(SupportService, MissingBinaryThrows) {
  ServiceProcess proc("/nonexistent/userservice", {});
  EXPECT_THROW(proc.start(), std::exception);
}

TEST(SupportService, BaseEnvironment) {
  auto& redis = userservice::testing::shared_redis();
  auto env = userservice::testing::base_service_env("host=x", redis, 4242);
  EXPECT_EQ(env.at("USERSERVICE_INTERNAL_HTTP_ADDR"), "127.0.0.1:4242");
  EXPECT_EQ(env.at("USERSERVICE_REDIS_MASTER_ADDR"), redis.addr());
  EXPECT_EQ(env.at("USERSERVICE_REDIS_PASSWORD"), "test-secret");
  EXPECT_EQ(env.at("USERSERVICE_POSTGRES_PRIMARY_DSN"), "host=x");
  EXPECT_EQ(env.at("USERSERVICE_LOG_LEVEL"), "debug");
  EXPECT_EQ(env.at("OTEL_TRACES_EXPORTER"), "none");
  EXPECT_EQ(env.at("OTEL_METRICS_EXPORTER"), "none");
}

// ---------------------------------------------------------------------------------------------
// HttpClient against a scripted loopback server

// Accepts connections one after another and hands each to `handler` on a background thread.
class ScriptedServer {
 public:
  using Handler = std::function<void(int fd, int connection_index)>;
  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (int i = 0;; ++i) {
        int fd = accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;
        accepted_ = i + 1;
        handler_(fd, i);
        close(fd);
      }
    });
  }
  ~ScriptedServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

  // Reads one request head plus a Content-Length body; "" when the client closed.
  static std::string read_request(int fd) {
    std::string data;
    char buf[4096];
    for (;;) {
      auto head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        auto cl = data.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(data.substr(cl + 16));
        if (data.size() >= head_end + 4 + length) return data.substr(0, head_end + 4 + length);
      }
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return "";
      data.append(buf, static_cast<std::size_t>(n));
    }
  }
  static void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(SupportHttp, KeepAliveRequestsAndChunkedBodies) {
  std::vector<std::string> seen;
  ScriptedServer server([&](int fd, int) {
    seen.push_back(ScriptedServer::read_request(fd));
    ScriptedServer::write_all(fd,
                              "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Request-Id: "
                              "abc\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\n{}");
    seen.push_back(ScriptedServer::read_request(fd));
    ScriptedServer::write_all(
        fd,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    seen.push_back(ScriptedServer::read_request(fd));
    ScriptedServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    ScriptedServer::read_request(fd);  // until the client goes away
  });
  HttpClient client(server.port());
  auto r1 = client.request("POST", "/api/v1/x", R"({"a":1})", {{"X-Request-Id", "abc"}});
  EXPECT_EQ(r1.status, 201u);
  EXPECT_EQ(r1.body, "{}");
  EXPECT_EQ(r1.header("x-request-id"), "abc");
  EXPECT_EQ(r1.header("set-cookie"), "a, b");
  EXPECT_EQ(r1.header("absent"), "");
  auto r2 = client.request("GET", "/y");
  EXPECT_EQ(r2.status, 200u);
  EXPECT_EQ(r2.body, "abcde");
  auto r3 = client.request("HEAD", "/z");  // Content-Length without a body
  EXPECT_EQ(r3.status, 200u);
  EXPECT_EQ(r3.body, "");
  EXPECT_EQ(server.accepted(), 1);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "POST /api/v1/x HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                         "\r\nX-Request-Id: abc\r\nContent-Length: 7\r\n"
                         "Content-Type: application/json\r\n\r\n{\"a\":1}");
  EXPECT_EQ(seen[1],
            "GET /y HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n\r\n");
}

TEST(SupportHttp, RawBytesTimeoutsAndPeerClose) {
  std::atomic<int> step{0};
  ScriptedServer server([&](int fd, int index) {
    if (index == 0) {
      auto req = ScriptedServer::read_request(fd);
      EXPECT_EQ(req, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
      while (step < 1) std::this_thread::sleep_for(1ms);
      ScriptedServer::write_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Le");  // half a head
      while (step < 2) std::this_thread::sleep_for(1ms);
      ScriptedServer::write_all(fd, "ngth: 3\r\nConnection: close\r\n\r\nbad");
      return;  // close
    }
    // Second connection: hold it open until the client gives up.
    ScriptedServer::read_request(fd);
  });
  HttpClient client(server.port());
  client.send_raw("GET /sl");
  client.send_raw("ow HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(client.read_response(100ms), std::nullopt);
  step = 1;
  EXPECT_EQ(client.read_response(200ms), std::nullopt);  // partial head is kept, not lost
  step = 2;
  auto r = client.read_response(5s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400u);
  EXPECT_EQ(r->body, "bad");
  EXPECT_TRUE(client.closed_by_peer(2s));
  EXPECT_THROW(client.read_response(1s), std::runtime_error);

  client.reconnect();
  EXPECT_FALSE(client.closed_by_peer(200ms));
  EXPECT_EQ(server.accepted(), 2);
}

TEST(SupportHttp, ConnectionCloseMakesNextRequestReconnect) {
  ScriptedServer server([](int fd, int) {
    ScriptedServer::read_request(fd);
    ScriptedServer::write_all(
        fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  });
  HttpClient client(server.port());
  EXPECT_EQ(client.request("GET", "/a").body, "ok");
  EXPECT_EQ(client.request("GET", "/b").body, "ok");
  EXPECT_EQ(userservice::testing::http(server.port(), "GET", "/c").status, 200u);
  EXPECT_EQ(server.accepted(), 3);
}

TEST(SupportHttp, EarlyAnswerToAnOversizeBodyIsStillRead) {
  ScriptedServer server([](int fd, int) {
    char buf[1024];
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<std::size_t>(n));
    }
    ScriptedServer::write_all(
        fd, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    shutdown(fd, SHUT_WR);
    std::this_thread::sleep_for(50ms);
    // Closing with the body unread makes the kernel send a reset.
  });
  HttpClient client(server.port());
  auto r = client.request("POST", "/big", std::string(8 << 20, 'x'));
  EXPECT_EQ(r.status, 413u);
}

TEST(SupportHttp, ConnectFailureThrows) {
  EXPECT_THROW(HttpClient(userservice::testing::free_loopback_port()), std::system_error);
}

}  // namespace
