// The HTTP adapter in-process: a real Server on a background io_context thread, driven over
// loopback by the raw test client.
#include "adapters/http/server.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <future>
#include <memory>
#include <regex>
#include <stdexcept>
#include <thread>

#include "support/http_client.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"

namespace userservice::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpResponse;
using SteadyClock = std::chrono::steady_clock;

net::awaitable<Response> echo(Request& req) {
  Response r = json_response(200, req.body.empty() ? "{}" : req.body);
  r.headers = {{"X-Echo-Request-Id", req.ctx.request_id},
               {"X-Echo-Trace-Id", req.ctx.trace_id},
               {"X-Echo-Span-Id", req.ctx.span_id},
               {"X-Echo-Query", req.query},
               {"X-Echo-Path", req.path}};
  co_return r;
}

net::awaitable<Response> item(Request& req) {
  Response r = json_response(200, "{}");
  r.headers = {{"X-Param", std::string(req.param("id"))}};
  co_return r;
}

// GET /slow?ms=N sleeps N ms on a cancellable timer.
net::awaitable<Response> slow(Request& req) {
  auto ms = std::stoi(req.query.substr(req.query.find('=') + 1));
  net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(net::use_awaitable);
  co_return json_response(200, R"({"slept":true})");
}

net::awaitable<Response> conflict(Request&) {
  throw domain::Error(domain::ErrorCode::conflict, "user name taken", "unique violation 23505");
  co_return Response{};
}

net::awaitable<Response> unavailable(Request&) {
  throw domain::Error(domain::ErrorCode::service_unavailable, "database unavailable",
                      "connection to 10.0.0.5 refused");
  co_return Response{};
}

net::awaitable<Response> crash(Request&) {
  throw std::runtime_error("SELECT password FROM secrets failed");
  co_return Response{};
}

net::awaitable<Response> no_content(Request&) { co_return Response{204, "{}"}; }

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : log_(telemetry::Level::debug, log_file_) {
    router_.add(Method::get, "/echo", echo);
    router_.add(Method::head, "/echo", echo);
    router_.add(Method::post, "/echo", echo);
    router_.add(Method::get, "/items/{id}", item);
    router_.add(Method::head, "/items/{id}", item);
    router_.add(Method::get, "/slow", slow);
    router_.add(Method::get, "/conflict", conflict);
    router_.add(Method::get, "/unavailable", unavailable);
    router_.add(Method::get, "/crash", crash);
    router_.add(Method::delete_, "/no-content", no_content);
  }

  ~HttpServerTest() override { stop(); }

  static ServerOptions short_timeouts() {
    ServerOptions o;
    o.name = "internal";
    o.address = "127.0.0.1:0";
    o.read_header_timeout = 300ms;
    o.read_timeout = 1s;
    o.idle_timeout = 500ms;
    o.request_timeout = 500ms;
    o.body_limit = 64 * 1024;
    return o;
  }

  void start(ServerOptions o = short_timeouts()) {
    server_ = std::make_unique<Server>(io_, std::move(o), router_, log_, &metrics_);
    server_->listen();
    port_ = server_->port();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  std::future<void> begin_shutdown(std::chrono::milliseconds grace) {
    return net::co_spawn(io_, server_->shutdown(SteadyClock::now() + grace), net::use_future);
  }

  void stop() {
    if (!thread_.joinable()) return;
    if (!stopped_) begin_shutdown(1s).get();
    stopped_ = true;
    io_.stop();
    thread_.join();
  }

  std::string log_text() {
    log_.flush();
    std::fflush(log_file_);
    std::rewind(log_file_);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, log_file_)) out.append(buf, n);
    return out;
  }

  static void expect_error(const HttpResponse& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find(R"({"error":{"code":")" + code + "\""), std::string::npos) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
    EXPECT_FALSE(r.header("x-request-id").empty());
    EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  }

  static bool is_hex(const std::string& s, std::size_t n) {
    return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
  }

  // Closed after log_ is gone (members go in reverse order): the logger's writer thread must
  // be done with the file first.
  struct TmpFile {
    std::FILE* f = std::tmpfile();
    ~TmpFile() { std::fclose(f); }
  } log_tmp_;
  std::FILE* log_file_ = log_tmp_.f;
  telemetry::Logger log_;
  telemetry::Metrics metrics_;
  Router router_;
  net::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  bool stopped_ = false;
  int port_ = 0;
};

TEST_F(HttpServerTest, KeepAliveAndPipelining) {
  start();
  HttpClient c(port_);
  auto r1 = c.request("GET", "/echo?x=1");
  EXPECT_EQ(r1.status, 200u);
  EXPECT_EQ(r1.header("x-echo-query"), "x=1");
  EXPECT_EQ(r1.header("x-echo-path"), "/echo");
  EXPECT_FALSE(c.closed_by_peer(100ms));
  auto r2 = c.request("POST", "/echo", R"({"a":1})");
  EXPECT_EQ(r2.status, 200u);
  EXPECT_EQ(r2.body, R"({"a":1})");
  EXPECT_EQ(r2.header("content-length"), "7");
  EXPECT_EQ(r2.header("content-type"), "application/json; charset=utf-8");

  // Two requests in one write: both answered, in order, on the same connection.
  c.send_raw(
      "GET /items/one HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /items/two HTTP/1.1\r\nHost: x\r\n\r\n");
  auto p1 = c.read_response();
  auto p2 = c.read_response();
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(p1->header("x-param"), "one");
  EXPECT_EQ(p2->header("x-param"), "two");
  EXPECT_FALSE(c.closed_by_peer(100ms));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  start();
  HttpClient c(port_);
  c.send_raw("GET /items/a HTTP/1.0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_TRUE(c.closed_by_peer(1s));

  HttpClient k(port_);
  k.send_raw("GET /items/b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto rk = k.read_response();
  ASSERT_TRUE(rk);
  EXPECT_EQ(rk->header("x-param"), "b");
  EXPECT_EQ(rk->header("connection"), "keep-alive");
  EXPECT_FALSE(k.closed_by_peer(100ms));
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  start();
  HttpClient c(port_);
  expect_error(c.request("GET", "/nope"), 404, "not_found");
  expect_error(c.request("GET", "/items/a/b"), 404, "not_found");
  EXPECT_EQ(c.request("GET", "/echo").status, 200u);  // the connection survives
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  start();
  HttpClient c(port_);
  auto r = c.request("DELETE", "/items/a");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  auto r2 = c.request("BREW", "/echo");
  expect_error(r2, 405, "method_not_allowed");
  EXPECT_EQ(r2.header("allow"), "GET, HEAD, POST");
  EXPECT_EQ(c.request("GET", "/echo").status, 200u);
}

TEST_F(HttpServerTest, PathParamsArePercentDecoded) {
  start();
  HttpClient c(port_);
  EXPECT_EQ(c.request("GET", "/items/a%2Fb%20c").header("x-param"), "a/b c");
  expect_error(c.request("GET", "/items/a%zz"), 400, "invalid_request");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndCloses) {
  start();
  HttpClient c(port_);
  // Content-Length over the limit: answered before any body byte is read.
  c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 70000\r\n\r\n" +
      std::string(1000, ' '));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  expect_error(*r, 413, "request_too_large");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer(2s));

  // Chunked: the limit trips while reading the body.
  HttpClient k(port_);
  k.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) k.send_raw("8000\r\n" + std::string(0x8000, 'a') + "\r\n");
  auto rk = k.read_response();
  ASSERT_TRUE(rk);
  expect_error(*rk, 413, "request_too_large");
  EXPECT_TRUE(k.closed_by_peer(2s));

  // Exactly at the limit is fine.
  HttpClient ok(port_);
  std::string body = "\"" + std::string(64 * 1024 - 2, 'x') + "\"";
  EXPECT_EQ(ok.request("POST", "/echo", body).status, 200u);
}

TEST_F(HttpServerTest, NonJsonBodyIs415) {
  start();
  HttpClient c(port_);
  expect_error(c.request("POST", "/echo", "hello", {{"Content-Type", "text/plain"}}), 415,
               "unsupported_media_type");
  expect_error(c.request("POST", "/echo", "{}", {{"Content-Type", "application/jsonx"}}), 415,
               "unsupported_media_type");
  EXPECT_EQ(c.request("POST", "/echo", "{}", {{"Content-Type", "Application/JSON ; charset=utf-8"}})
                .status,
            200u);
  // No body: the content type does not matter.
  EXPECT_EQ(c.request("POST", "/echo", "", {{"Content-Type", "text/plain"}}).status, 200u);
}

TEST_F(HttpServerTest, AdminListenerDoesNotCheckContentType) {
  auto o = short_timeouts();
  o.json_api = false;
  o.request_timeout = 0ns;
  start(o);
  EXPECT_EQ(testing::http(port_, "POST", "/echo", "x", {{"Content-Type", "text/plain"}}).status,
            200u);
}

TEST_F(HttpServerTest, GarbageIs400AndCloses) {
  start();
  HttpClient c(port_);
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  expect_error(*r, 400, "invalid_request");
  EXPECT_TRUE(is_hex(r->header("x-request-id"), 32));
  EXPECT_TRUE(c.closed_by_peer(2s));

  HttpClient h(port_);
  h.send_raw("GET /echo HTTP/1.1\r\nBad Header Name: x\r\n\r\n");
  auto rh = h.read_response();
  ASSERT_TRUE(rh);
  expect_error(*rh, 400, "invalid_request");
}

TEST_F(HttpServerTest, SlowHandlerIs504AtRequestTimeout) {
  start();
  HttpClient c(port_);
  auto t0 = SteadyClock::now();
  auto r = c.request("GET", "/slow?ms=3000");
  auto took = SteadyClock::now() - t0;
  expect_error(r, 504, "deadline_exceeded");
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2500ms);
  EXPECT_EQ(c.request("GET", "/slow?ms=10").status, 200u);  // the connection survives
}

TEST_F(HttpServerTest, HandlerExceptions) {
  start();
  HttpClient c(port_);
  auto r = c.request("GET", "/conflict");
  expect_error(r, 409, "conflict");
  EXPECT_NE(r.body.find("user name taken"), std::string::npos);
  EXPECT_EQ(r.body.find("23505"), std::string::npos);

  auto u = c.request("GET", "/unavailable");
  expect_error(u, 503, "service_unavailable");
  EXPECT_EQ(u.body.find("10.0.0.5"), std::string::npos);

  auto x = c.request("GET", "/crash");
  expect_error(x, 500, "internal_error");
  EXPECT_EQ(x.body, R"({"error":{"code":"internal_error","message":"internal error"}})");
  EXPECT_EQ(c.request("GET", "/echo").status, 200u);

  stop();
  auto logs = log_text();
  EXPECT_NE(logs.find("SELECT password FROM secrets failed"), std::string::npos);  // logged
  EXPECT_NE(logs.find("connection to 10.0.0.5 refused"), std::string::npos);
}

TEST_F(HttpServerTest, HalfHeaderIsDisconnectedAfterReadHeaderTimeout) {
  start();
  HttpClient c(port_);
  c.send_raw("GET /echo HTTP/1.1\r\nHost: x\r\n");
  auto t0 = SteadyClock::now();
  EXPECT_TRUE(c.closed_by_peer(3s));
  auto took = SteadyClock::now() - t0;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(c.pending_bytes().empty());  // no response, just a close
}

TEST_F(HttpServerTest, SlowBodyIsDisconnectedAfterReadTimeout) {
  start();
  HttpClient c(port_);
  c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 10\r\n\r\n{");
  auto t0 = SteadyClock::now();
  EXPECT_TRUE(c.closed_by_peer(4s));
  auto took = SteadyClock::now() - t0;
  EXPECT_GE(took, 800ms);  // the header alone was in time; the whole request was not
  EXPECT_LT(took, 2500ms);
}

TEST_F(HttpServerTest, IdleKeepAliveIsClosedAfterIdleTimeout) {
  start();
  HttpClient c(port_);
  EXPECT_EQ(c.request("GET", "/echo").status, 200u);
  auto t0 = SteadyClock::now();
  EXPECT_FALSE(c.closed_by_peer(300ms));
  EXPECT_TRUE(c.closed_by_peer(3s));
  auto took = SteadyClock::now() - t0;
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 2s);

  // A connection that never sends a byte gets the read-header timeout.
  HttpClient silent(port_);
  EXPECT_TRUE(silent.closed_by_peer(3s));
}

TEST_F(HttpServerTest, RequestIdEchoedOrMinted) {
  start();
  HttpClient c(port_);
  auto r = c.request("GET", "/echo", "", {{"X-Request-Id", "abc-123.x_y:z"}});
  EXPECT_EQ(r.header("x-request-id"), "abc-123.x_y:z");
  EXPECT_EQ(r.header("x-echo-request-id"), "abc-123.x_y:z");

  auto bad = c.request("GET", "/echo", "", {{"X-Request-Id", "has space"}});
  EXPECT_TRUE(is_hex(bad.header("x-request-id"), 32));
  EXPECT_EQ(bad.header("x-echo-request-id"), bad.header("x-request-id"));

  auto longer = c.request("GET", "/echo", "", {{"X-Request-Id", std::string(129, 'a')}});
  EXPECT_TRUE(is_hex(longer.header("x-request-id"), 32));

  auto none1 = c.request("GET", "/echo");
  auto none2 = c.request("GET", "/echo");
  EXPECT_TRUE(is_hex(none1.header("x-request-id"), 32));
  EXPECT_NE(none1.header("x-request-id"), none2.header("x-request-id"));

  // Error responses carry it too.
  EXPECT_EQ(c.request("GET", "/nope", "", {{"X-Request-Id", "r1"}}).header("x-request-id"), "r1");
  EXPECT_EQ(c.request("GET", "/crash", "", {{"X-Request-Id", "r2"}}).header("x-request-id"), "r2");
}

TEST_F(HttpServerTest, TraceparentContinuesTrace) {
  start();
  HttpClient c(port_);
  auto r = c.request("GET", "/echo", "",
                     {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  EXPECT_EQ(r.header("x-echo-trace-id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(is_hex(r.header("x-echo-span-id"), 16));
  EXPECT_NE(r.header("x-echo-span-id"), "00f067aa0ba902b7");

  auto fresh = c.request("GET", "/echo", "", {{"traceparent", "00-garbage"}});
  EXPECT_TRUE(is_hex(fresh.header("x-echo-trace-id"), 32));
  EXPECT_NE(fresh.header("x-echo-trace-id"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(HttpServerTest, HeadAnd204HaveNoBody) {
  start();
  HttpClient c(port_);
  auto h = c.request("HEAD", "/echo");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.header("content-length"), "2");  // what GET would send
  EXPECT_TRUE(h.body.empty());
  auto n = c.request("DELETE", "/no-content");
  EXPECT_EQ(n.status, 204u);
  EXPECT_TRUE(n.body.empty());
  EXPECT_EQ(n.header("content-length"), "");
  // Nothing stray was sent after either: the next response parses cleanly.
  EXPECT_EQ(c.request("GET", "/items/z").header("x-param"), "z");
}

TEST_F(HttpServerTest, ExpectContinue) {
  start();
  HttpClient c(port_);
  c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response(2s);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100u);
  c.send_raw("{}");
  auto r = c.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST_F(HttpServerTest, AccessLogAndMetrics) {
  start();
  HttpClient c(port_);
  c.request("GET", "/items/secret-user", "", {{"X-Request-Id", "log-check-1"}});
  c.request("GET", "/nope");
  stop();
  auto logs = log_text();
  std::regex line(
      R"(\{[^\n]*"msg":"request","server":"internal","method":"GET","route":"/items/\{id\}",)"
      R"("path":"/items/secret-user","status":200,"duration_ms":[0-9.e-]+,)"
      R"("request_id":"log-check-1","trace_id":"[0-9a-f]{32}","span_id":"[0-9a-f]{16}"\})");
  EXPECT_TRUE(std::regex_search(logs, line)) << logs;
  EXPECT_NE(logs.find(R"("route":"unmatched","path":"/nope","status":404)"), std::string::npos)
      << logs;
  auto text = metrics_.serialize();
  EXPECT_NE(text.find(R"(route="/items/{id}")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(route="unmatched")"), std::string::npos) << text;
}

TEST_F(HttpServerTest, GracefulShutdownFinishesInFlightRequest) {
  auto o = short_timeouts();
  o.request_timeout = 5s;
  o.idle_timeout = 10s;
  start(o);
  HttpClient idle(port_);
  EXPECT_EQ(idle.request("GET", "/echo").status, 200u);

  HttpClient busy(port_);
  busy.send_raw("GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(150ms);  // let it reach the handler

  auto t0 = SteadyClock::now();
  auto done = begin_shutdown(3s);
  EXPECT_TRUE(idle.closed_by_peer(1s));  // idle keep-alive connections go at once
  EXPECT_LT(SteadyClock::now() - t0, 400ms);
  EXPECT_THROW(HttpClient late(port_), std::system_error);  // no longer accepting

  auto r = busy.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"slept":true})");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.closed_by_peer(1s));
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_LT(SteadyClock::now() - t0, 2s);  // did not sit out the whole grace period
  done.get();
  stopped_ = true;
}

TEST_F(HttpServerTest, ShutdownDeadlineForceClosesStuckRequests) {
  auto o = short_timeouts();
  o.request_timeout = 0ns;  // only the shutdown deadline can stop it
  start(o);
  HttpClient busy(port_);
  busy.send_raw("GET /slow?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(150ms);
  auto t0 = SteadyClock::now();
  auto done = begin_shutdown(300ms);
  ASSERT_EQ(done.wait_for(3s), std::future_status::ready);
  done.get();
  stopped_ = true;
  auto took = SteadyClock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(busy.closed_by_peer(1s));
  EXPECT_TRUE(busy.pending_bytes().empty());
  stop();
  // Logged (and counted) even though nothing could be sent.
  EXPECT_NE(log_text().find(R"("route":"/slow","path":"/slow","status":503)"), std::string::npos);
}

TEST_F(HttpServerTest, ListenFailureNamesTheAddress) {
  start();
  auto o = short_timeouts();
  o.address = "127.0.0.1:" + std::to_string(port_);
  Server second(io_, o, router_, log_, nullptr);
  try {
    second.listen();
    ADD_FAILURE() << "listen on a used port succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(port_)),
              std::string::npos)
        << e.what();
  }
  o.address = "127.0.0.1:99999";
  Server bad_port(io_, o, router_, log_, nullptr);
  EXPECT_THROW(bad_port.listen(), std::runtime_error);
  o.address = "nonsense";
  Server no_port(io_, o, router_, log_, nullptr);
  EXPECT_THROW(no_port.listen(), std::runtime_error);
}

TEST_F(HttpServerTest, AllInterfacesAddress) {
  auto o = short_timeouts();
  o.address = ":0";
  start(o);
  EXPECT_GT(port_, 0);
  EXPECT_EQ(testing::http(port_, "GET", "/echo").status, 200u);
}

}  // namespace
}  // namespace userservice::http
