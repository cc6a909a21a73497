// Listener behaviour of the real binary (api.md §1, docs/design.md "The process"), and the
// database path under outages and slowness.
#include <boost/json.hpp>

#include <thread>

#include "integration/service_fixture.h"

using namespace userservice::testing;
using namespace std::chrono_literals;

namespace {

std::string error_code(const HttpResponse& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.at("error").at("code").as_string());
}

void expect_error(const HttpResponse& r, unsigned status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  ASSERT_NO_THROW(error_code(r)) << r.body;
  EXPECT_EQ(error_code(r), code) << r.body;
  auto msg = boost::json::parse(r.body).at("error").at("message");
  EXPECT_TRUE(msg.is_string() && !msg.as_string().empty()) << r.body;
  EXPECT_FALSE(r.header("x-request-id").empty());
}

class ServiceHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    service_ = new RunningService(
        start_service({{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"},
                       {"USERSERVICE_INTERNAL_HTTP_READ_HEADER_TIMEOUT", "500ms"},
                       {"USERSERVICE_INTERNAL_HTTP_IDLE_TIMEOUT", "1s"}}));
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  static RunningService* service_;
};
RunningService* ServiceHttp::service_ = nullptr;

}  // namespace

TEST_F(ServiceHttp, UnknownRouteIs404NotFound) {
  expect_error(service_->call("GET", "/api/v1/internal/nope"), 404, "not_found");
  expect_error(service_->call("GET", "/"), 404, "not_found");
}

TEST_F(ServiceHttp, NoHealthEndpoints) {
  expect_error(service_->call("GET", "/healthz"), 404, "not_found");
  expect_error(service_->call("GET", "/readyz"), 404, "not_found");
  expect_error(http(service_->admin_port, "GET", "/healthz"), 404, "not_found");
}

TEST_F(ServiceHttp, WrongMethodIs405WithAllow) {
  auto r = service_->call("DELETE", "/api/v1/internal/users/u1/exists");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_NE(r.header("allow").find("GET"), std::string::npos) << r.header("allow");
}

TEST_F(ServiceHttp, MalformedUserIdIs400) {
  expect_error(service_->call("GET", "/api/v1/internal/users/bad%20id/exists"), 400,
               "invalid_request");
  expect_error(service_->call("GET", "/api/v1/internal/users/" + std::string(65, 'a') + "/exists"),
               400, "invalid_request");
  expect_error(service_->call("GET", "/api/v1/internal/users/a%2Fb/exists"), 400,
               "invalid_request");
  expect_error(service_->call("GET", "/api/v1/internal/users/%zz/exists"), 400, "invalid_request");
}

TEST_F(ServiceHttp, RequestIdIsEchoedOrMinted) {
  auto echoed =
      service_->call("GET", "/api/v1/internal/users/u1/exists", "", {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(echoed.header("x-request-id"), "abc-123");
  auto minted = service_->call("GET", "/api/v1/internal/users/u1/exists");
  EXPECT_FALSE(minted.header("x-request-id").empty());
  auto insane = service_->call("GET", "/api/v1/internal/users/u1/exists", "",
                               {{"X-Request-Id", "has spaces and \"quotes\""}});
  EXPECT_FALSE(insane.header("x-request-id").empty());
  EXPECT_NE(insane.header("x-request-id"), "has spaces and \"quotes\"");
  // Errors carry it too.
  EXPECT_EQ(service_->call("GET", "/nope", "", {{"X-Request-Id", "r-404"}}).header("x-request-id"),
            "r-404");
}

TEST_F(ServiceHttp, AccessLogLineCarriesRouteTemplateAndRequestId) {
  service_->call("GET", "/api/v1/internal/users/u-log-check/exists", "",
                 {{"X-Request-Id", "log-check-1"}});
  std::this_thread::sleep_for(100ms);
  std::string out = service_->process->stdout_text();
  auto pos = out.find("log-check-1");
  ASSERT_NE(pos, std::string::npos);
  auto begin = out.rfind('\n', pos) + 1;
  auto line = boost::json::parse(out.substr(begin, out.find('\n', pos) - begin)).as_object();
  EXPECT_EQ(line.at("route").as_string(), "/api/v1/internal/users/{user_id}/exists");
  EXPECT_EQ(line.at("method").as_string(), "GET");
  EXPECT_EQ(line.at("status").as_int64(), 200);
  EXPECT_TRUE(line.contains("duration_ms"));
  EXPECT_TRUE(line.contains("trace_id"));
}

TEST_F(ServiceHttp, TraceparentContinuesTheCallersTrace) {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  service_->call(
      "GET", "/api/v1/internal/users/u-trace/exists", "",
      {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}, {"X-Request-Id", "trace-check-1"}});
  std::this_thread::sleep_for(100ms);
  std::string out = service_->process->stdout_text();
  auto pos = out.find("trace-check-1");
  ASSERT_NE(pos, std::string::npos);
  auto begin = out.rfind('\n', pos) + 1;
  auto line = boost::json::parse(out.substr(begin, out.find('\n', pos) - begin)).as_object();
  EXPECT_EQ(line.at("trace_id").as_string(), trace);
}

TEST_F(ServiceHttp, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpClient c(service_->port);
  for (int i = 0; i < 5; ++i) {
    auto r = c.request("GET", "/api/v1/internal/users/u1/exists");
    EXPECT_EQ(r.status, 200u);
  }
}

TEST_F(ServiceHttp, OversizeBodyIs413) {
  auto r = service_->call("GET", "/api/v1/internal/users/u1/exists", std::string(70 * 1024, 'x'));
  expect_error(r, 413, "request_too_large");
}

TEST_F(ServiceHttp, NonJsonBodyIs415) {
  auto r = service_->call("GET", "/api/v1/internal/users/u1/exists", "hello",
                          {{"Content-Type", "text/plain"}});
  expect_error(r, 415, "unsupported_media_type");
}

TEST_F(ServiceHttp, GarbageIs400) {
  HttpClient c(service_->port);
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read_response(3s);
  ASSERT_TRUE(r.has_value());
  expect_error(*r, 400, "invalid_request");
}

TEST_F(ServiceHttp, HalfAHeaderIsDisconnectedAfterTheReadHeaderTimeout) {
  HttpClient c(service_->port);
  c.send_raw("GET /api/v1/internal/users/u1/exists HTTP/1.1\r\nHost: x\r\n");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(ServiceHttp, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpClient c(service_->port);
  EXPECT_EQ(c.request("GET", "/api/v1/internal/users/u1/exists").status, 200u);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(5s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GT(took, 700ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ServiceHttp, AdminListenerServesPrometheusMetrics) {
  service_->call("GET", "/api/v1/internal/users/u1/exists");
  auto r = http(service_->admin_port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE http_server_requests_total counter"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("route=\"/api/v1/internal/users/{user_id}/exists\""), std::string::npos);
  auto head = http(service_->admin_port, "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200u);
  EXPECT_TRUE(head.body.empty());
  expect_error(http(service_->admin_port, "POST", "/metrics", "{}"), 405, "method_not_allowed");
  // Business routes are not on the admin listener. (Sent raw: the exchange log that is checked
  // against docs/openapi.yaml is for the internal listener only.)
  HttpClient admin(service_->admin_port);
  admin.send_raw("GET /api/v1/internal/users/u1/exists HTTP/1.1\r\nHost: x\r\n\r\n");
  auto on_admin = admin.read_response();
  ASSERT_TRUE(on_admin);
  expect_error(*on_admin, 404, "not_found");
}

TEST(ServiceDatabase, SlowDatabasePastTheRequestTimeoutIs504) {
  auto s = start_service({{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "300ms"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "5s"}});
  std::thread locker([&] {
    shared_pg().query(s.dsn, R"(BEGIN; LOCK TABLE "user".accounts IN ACCESS EXCLUSIVE MODE;
                                SELECT pg_sleep(1.5); COMMIT;)");
  });
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  auto r = s.call("GET", "/api/v1/internal/users/u1/exists");
  auto took = std::chrono::steady_clock::now() - t0;
  locker.join();
  expect_error(r, 504, "deadline_exceeded");
  EXPECT_LT(took, 1200ms);
  // The service is fine afterwards.
  EXPECT_EQ(s.call("GET", "/api/v1/internal/users/u1/exists").status, 200u);
}

TEST(ServiceDatabase, OneSlowQueryDoesNotBlockOthers) {
  auto s = start_service({{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "5s"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "5s"}});
  // Lock only one row's worth of work: a lock on blocked_emails does not touch accounts,
  // so hold an advisory-free row lock by inserting then locking an account row.
  s.sql(
      R"(INSERT INTO "user".accounts(user_id, email, user_name) VALUES ('u-slow', 'slow@example.com', 'player-slow01'))");
  std::thread locker([&] {
    shared_pg().query(s.dsn, R"(BEGIN; LOCK TABLE "user".accounts IN ACCESS EXCLUSIVE MODE;
                                SELECT pg_sleep(2); COMMIT;)");
  });
  std::this_thread::sleep_for(300ms);
  HttpClient slow(s.port);
  slow.send_raw("GET /api/v1/internal/users/u-slow/exists HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(100ms);
  // Meanwhile a request that needs no database answers at once.
  auto t0 = std::chrono::steady_clock::now();
  auto fast = s.call("GET", "/api/v1/internal/nope");
  EXPECT_EQ(fast.status, 404u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  auto r = slow.read_response(5s);
  locker.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"exists":true})");
}

TEST(ServiceDatabase, PostgresRestartGives503ThenRecoversWithoutRestartingTheService) {
  PgServer pg;  // private: this test stops it
  std::string dsn = pg.create_database();
  auto s = start_service({{"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "1s"}}, dsn);
  EXPECT_EQ(s.call("GET", "/api/v1/internal/users/u1/exists").status, 200u);
  pg.stop();
  expect_error(s.call("GET", "/api/v1/internal/users/u1/exists"), 503, "service_unavailable");
  expect_error(s.call("GET", "/api/v1/internal/users/u1/exists"), 503, "service_unavailable");
  pg.start();
  HttpResponse r;
  // The first request after recovery succeeds (no retry loop needed).
  r = s.call("GET", "/api/v1/internal/users/u1/exists");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(s.process->running());
  // 503 bodies never leak driver text.
  pg.stop();
  auto err = s.call("GET", "/api/v1/internal/users/u1/exists");
  EXPECT_EQ(err.body.find("connection"), std::string::npos) << err.body;
  EXPECT_EQ(err.body.find("127.0.0.1"), std::string::npos) << err.body;
  pg.start();
}
