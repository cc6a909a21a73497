#include "adapters/http/router.h"

#include <gtest/gtest.h>

namespace userservice::http {
namespace {

boost::asio::awaitable<Response> noop(Request&) { co_return json_response(200, "{}"); }

Request make(Method m, std::string path) {
  Request r;
  r.method = m;
  r.method_text = std::string(to_string(m));
  r.path = std::move(path);
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add(Method::get, "/api/v1/internal/users/{user_id}", noop);
    router.add(Method::head, "/api/v1/internal/users/{user_id}", noop);
    router.add(Method::get, "/api/v1/internal/users/{user_id}/exists", noop);
    router.add(Method::post, "/api/v1/internal/users/eligibility:batch", noop);
    router.add(Method::delete_, "/api/v1/internal/blocked-emails/{email}", noop);
    router.add(Method::get, "/metrics", noop);
  }
  Router router;
};

TEST_F(RouterTest, MatchesLiteralRoute) {
  auto req = make(Method::get, "/metrics");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/metrics");
  EXPECT_TRUE(m.path_matched);
  EXPECT_TRUE(req.params.empty());
}

TEST_F(RouterTest, ExtractsParams) {
  auto req = make(Method::get, "/api/v1/internal/users/user-abc/exists");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/api/v1/internal/users/{user_id}/exists");
  EXPECT_EQ(req.param("user_id"), "user-abc");
  EXPECT_EQ(req.param("missing"), "");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  for (const char* path : {"/nope", "/api/v1/internal/users", "/api/v1/internal/users/x/exists/",
                           "/metrics/", "", "metrics", "/api/v1/internal/users/x/y"}) {
    auto req = make(Method::get, path);
    auto m = router.match(req);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_FALSE(m.path_matched) << path;
    EXPECT_EQ(m.allow, "") << path;
  }
}

TEST_F(RouterTest, WrongMethodListsAllowedMethods) {
  auto req = make(Method::post, "/api/v1/internal/users/user-1");
  auto m = router.match(req);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_matched);
  EXPECT_EQ(m.allow, "GET, HEAD");

  auto req2 = make(Method::head, "/metrics");  // HEAD is not implied by GET
  auto m2 = router.match(req2);
  EXPECT_EQ(m2.handler, nullptr);
  EXPECT_EQ(m2.allow, "GET");

  auto req3 = make(Method::other, "/metrics");
  req3.method_text = "BREW";
  EXPECT_EQ(router.match(req3).allow, "GET");
}

TEST_F(RouterTest, LiteralBeatsParamAndAllowUnitesOverlappingPatterns) {
  auto req = make(Method::post, "/api/v1/internal/users/eligibility:batch");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/api/v1/internal/users/eligibility:batch");
  EXPECT_TRUE(req.params.empty());

  // GET falls through to the {user_id} pattern (the handler then rejects the id).
  auto get = make(Method::get, "/api/v1/internal/users/eligibility:batch");
  auto gm = router.match(get);
  ASSERT_NE(gm.handler, nullptr);
  EXPECT_EQ(gm.route, "/api/v1/internal/users/{user_id}");
  EXPECT_EQ(get.param("user_id"), "eligibility:batch");

  auto put = make(Method::put, "/api/v1/internal/users/eligibility:batch");
  EXPECT_EQ(router.match(put).allow, "GET, HEAD, POST");
}

TEST_F(RouterTest, LiteralSegmentsMatchExactly) {
  // Encoded ':' is not the literal "eligibility:batch"; it is a user id candidate.
  auto req = make(Method::post, "/api/v1/internal/users/eligibility%3Abatch");
  auto m = router.match(req);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "GET, HEAD");
  auto upper = make(Method::get, "/METRICS");
  EXPECT_FALSE(router.match(upper).path_matched);
}

TEST_F(RouterTest, PercentDecodesParamsAfterSplitting) {
  auto req = make(Method::delete_, "/api/v1/internal/blocked-emails/a%2Fb%40example.com");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(req.param("email"), "a/b@example.com");

  auto plus = make(Method::delete_, "/api/v1/internal/blocked-emails/a+b%2bc%20d");
  ASSERT_NE(router.match(plus).handler, nullptr);
  EXPECT_EQ(plus.param("email"), "a+b+c d");  // '+' is literal in paths
}

TEST_F(RouterTest, EmptyParamSegmentStillMatches) {
  // The handler answers 400 for an empty id, as api.md asks, rather than a misleading 404.
  auto req = make(Method::get, "/api/v1/internal/users//exists");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(req.param("user_id"), "");
}

TEST_F(RouterTest, BadEscapeInParamIsInvalidRequest) {
  for (const char* bad : {"%", "%4", "%zz", "ab%g1", "x%2"}) {
    auto req = make(Method::get, std::string("/api/v1/internal/users/") + bad);
    try {
      router.match(req);
      ADD_FAILURE() << "no throw for " << bad;
    } catch (const domain::Error& e) {
      EXPECT_EQ(e.code(), domain::ErrorCode::invalid_request) << bad;
    }
  }
}

TEST(RouterAdd, RejectsBadPatterns) {
  Router r;
  EXPECT_THROW(r.add(Method::get, "no-slash", noop), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{b", noop), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{}", noop), std::invalid_argument);
  EXPECT_THROW(r.add(Method::other, "/a", noop), std::invalid_argument);
  r.add(Method::get, "/a/{b}", noop);
  EXPECT_THROW(r.add(Method::get, "/a/{b}", noop), std::invalid_argument);
  EXPECT_NO_THROW(r.add(Method::post, "/a/{b}", noop));
}

TEST(PercentDecode, Basics) {
  std::string out;
  EXPECT_TRUE(percent_decode("", out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(percent_decode("%41%62c%2F%2f", out));
  EXPECT_EQ(out, "Abc//");
  EXPECT_TRUE(percent_decode("%00", out));
  EXPECT_EQ(out, std::string(1, '\0'));
  EXPECT_FALSE(percent_decode("%", out));
  EXPECT_FALSE(percent_decode("%1", out));
  EXPECT_FALSE(percent_decode("%G0", out));
}

// What the hand-written decoder did before Boost.URL took over, byte for byte: '+' and every
// other unreserved, reserved or raw byte pass through; only a '%' without two hex digits fails.
TEST(PercentDecode, KeepsThePreviousRules) {
  std::string out;
  EXPECT_TRUE(percent_decode("a+b%2Bc%20d", out));
  EXPECT_EQ(out, "a+b+c d");
  EXPECT_TRUE(percent_decode("%ff%FE\x01 \"#?&=/\xc3\xa9", out));
  EXPECT_EQ(out, "\xff\xfe\x01 \"#?&=/\xc3\xa9");
  EXPECT_TRUE(percent_decode("%25%25", out));
  EXPECT_EQ(out, "%%");
  for (const char* bad : {"a%", "a%4", "%4g", "%%41", "%41%", "%41%4", "ab%", "%g", "%-1"}) {
    EXPECT_FALSE(percent_decode(bad, out)) << bad;
  }
}

}  // namespace
}  // namespace userservice::http
