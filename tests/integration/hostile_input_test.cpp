// Hostile input (docs/api.md, "Conventions"): bytes are data, never a crash. Invalid,
// overlong and surrogate UTF-8, NUL, percent-encoded garbage, forged tokens, huge numbers,
// deep JSON — in path segments, query keys and values, JSON bodies and headers. Every answer
// is a 4xx with a JSON error body (no 5xx), every body and every log line is valid UTF-8
// JSON, and nothing is written.
#include <boost/json.hpp>

#include <climits>

#include "domain/page_token.h"
#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace std::chrono_literals;

namespace {

struct Case {
  std::string name;
  std::string raw_request;  // sent byte for byte
  unsigned status;
  std::string code;  // "" when the answer is not an error
};

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Strict: Boost.JSON rejects invalid UTF-8.
bool valid_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

}  // namespace

TEST(HostileInput, EveryBadByteGetsA4xxWithAJsonBodyAndValidLogs) {
  auto s = start_service();
  const auto user = create_account(s).user_id;
  const std::string users = kApi + "/users/";
  const std::string admin = kApi + "/admin/users";
  const std::string forged = userservice::domain::encode_keyset_cursor(
      "listing?include_deleted=false",
      userservice::domain::KeysetCursor{INT64_MAX, "user-01m8a0n606g7v59x02jnpj8nq8", 0});
  const std::string set_limit = admin + "/" + user + "/limits/set";
  const auto limit_body = [](const std::string& value) {
    return R"({"limit_code":"max_owned_private_games","value":)" + value +
           R"(,"reason_code":"x","actor":{"type":"admin","id":"a"}})";
  };
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";

  const std::vector<Case> cases = {
      // Path segments, percent-encoded.
      {"invalid byte in a user name", get(admin + "/by-user-name/player-%FF"), 400,
       "invalid_request"},
      {"NUL in a user name", get(admin + "/by-user-name/player-%00abc"), 400, "invalid_request"},
      {"invalid byte in an email", get(admin + "/by-email/a%FF%40example.com"), 400,
       "invalid_request"},
      {"NUL in an email", get(admin + "/by-email/a%00%40example.com"), 400, "invalid_request"},
      {"overlong UTF-8", get(users + "%C0%AF/exists"), 400, "invalid_request"},
      {"UTF-8 surrogate", get(users + "%ED%A0%80/exists"), 400, "invalid_request"},
      {"past U+10FFFF", get(users + "%F4%90%80%80/exists"), 400, "invalid_request"},
      {"cut sequence", get(users + "%E2%82/exists"), 400, "invalid_request"},
      {"bad escape", get(users + "%zz/exists"), 400, "invalid_request"},
      {"lone percent", get(users + "%/exists"), 400, "invalid_request"},
      {"blocked email with NUL",
       "PUT " + kApi +
           "/admin/blocked-emails/a%00%40b.co HTTP/1.1\r\n"
           "Host: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
       400, "invalid_request"},
      // Path segments, raw bytes.
      {"raw invalid bytes in a user id", get(users + "\xff\xfe/exists"), 400, ""},
      {"raw invalid bytes, unknown route", get(kApi + "/\xff\xc0/nope"), 404, ""},
      // Query keys and values.
      {"invalid byte as a query key", get(admin + "?%FF=1"), 400, "invalid_request"},
      {"invalid byte in a query value", get(admin + "?declared_country=%FF"), 400,
       "invalid_request"},
      {"NUL in a page token", get(admin + "?page_token=%00"), 400, "invalid_request"},
      {"raw invalid byte in a query", get(admin + "?plan_code=\xff"), 400, "invalid_request"},
      {"forged token, huge time", get(admin + "?page_token=" + forged), 400, "invalid_request"},
      {"huge page size", get(admin + "?page_size=99999999999999999999999"), 400, "invalid_request"},
      {"history token with NUL", get(admin + "/" + user + "/limits/history?page_token=a%00"), 400,
       "invalid_request"},
      // JSON bodies.
      {"NUL escape in a string",
       post(users + "ensure-by-email", R"({"email":"a\u0000b@example.com"})"), 400,
       "invalid_request"},
      {"lone surrogate escape",
       post(users + "ensure-by-email", R"({"email":"\ud800@example.com"})"), 400,
       "invalid_request"},
      {"raw invalid bytes in a string",
       post(users + "ensure-by-email", "{\"email\":\"\xff@example.com\"}"), 400, "invalid_request"},
      {"overlong bytes in a string",
       post(users + "ensure-by-email", "{\"email\":\"\xc0\xaf@example.com\"}"), 400,
       "invalid_request"},
      {"invalid bytes in a key", post(users + "ensure-by-email", "{\"\xff\":1}"), 400,
       "invalid_request"},
      {"NUL escape in a key", post(users + "ensure-by-email", R"({"e\u0000":1})"), 400,
       "invalid_request"},
      {"deep JSON", post(users + "ensure-by-email", deep), 400, "invalid_request"},
      {"huge integer", post(set_limit, limit_body("123456789012345678901234567890")), 400,
       "invalid_request"},
      {"huge exponent", post(set_limit, limit_body("1e400")), 400, "invalid_request"},
      {"negative huge", post(set_limit, limit_body("-9223372036854775809")), 400,
       "invalid_request"},
      {"not JSON", post(users + "ensure-by-email", "\xff\xfe\x00"), 400, "invalid_request"},
      // Headers.
      {"invalid Idempotency-Key", post(set_limit, limit_body("1"), "Idempotency-Key: \xff\xfe\r\n"),
       400, "invalid_request"},
      {"hostile X-Request-Id is not echoed",
       get(users + user + "/exists", "X-Request-Id: \xff\"}{\r\n"), 200, ""},
      {"hostile traceparent", get(users + user + "/exists", "traceparent: 00-\xff\xff-zz-01\r\n"),
       200, ""},
      {"oversized tracestate",
       get(users + user + "/exists",
           "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: "
           "a=" +
               std::string(600, 'b') + "\r\n"),
       200, ""},
      {"binary tracestate",
       get(users + user + "/exists",
           "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: "
           "a=\xff\r\n"),
       200, ""},
  };
  const WriteCounts before = write_counts(s);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpClient client(s.port);
    client.send_raw(c.raw_request);
    auto r = client.read_response(5s);
    ASSERT_TRUE(r.has_value()) << "no answer";
    EXPECT_LT(r->status, 500u) << r->body;
    EXPECT_EQ(r->status, c.status) << r->body;
    EXPECT_TRUE(valid_json(r->body)) << r->body;
    if (!c.code.empty()) EXPECT_EQ(error_code_of(*r), c.code) << r->body;
    if (r->status >= 400) {
      EXPECT_TRUE(r->header("content-type").starts_with("application/json")) << r->body;
    }
    const std::string id = r->header("x-request-id");
    EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char ch) { return std::isxdigit(ch); }) ||
                id.find('\xff') == std::string::npos)
        << id;
  }
  EXPECT_EQ(write_counts(s), before) << "hostile input wrote something";
  expect_alive(s);
  // Every log line is valid UTF-8 JSON, whatever the requests carried.
  std::this_thread::sleep_for(300ms);  // the log writer runs on its own thread
  const std::string out = s.process->stdout_text();
  std::size_t lines = 0;
  for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string_view line(out.data() + at, nl - at);
    EXPECT_TRUE(valid_json(line)) << line;
    ++lines;
  }
  EXPECT_GT(lines, cases.size());
}
