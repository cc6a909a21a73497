// A connection's requests reuse one Request (its buffers): each must still look exactly like a
// fresh one, with nothing left over from the request before it.
#include "adapters/http/request_head.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "adapters/http/trace_context.h"

namespace userservice::http {
namespace {

namespace bhttp = boost::beast::http;
using Message = bhttp::request<bhttp::string_body>;

boost::asio::awaitable<Response> noop(Request&) { co_return json_response(200, "{}"); }

Message post_with_everything() {
  Message m{bhttp::verb::post, "/api/v1/internal/users/user-01jej0582nsfwq8qqt2e32rw7q/a/b%2Fc?x=1",
            11};
  m.set("Host", "127.0.0.1:58090");
  m.set("X-Request-Id", "caller-request-id-with-more-than-fifteen-characters");
  m.set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  m.set("Tracestate", "vendor=some-long-state-value,other=another-value");
  m.set("Content-Type", "application/json; charset=utf-8");
  m.set("X-Custom-Header-Number-One", "a value long enough to live on the heap");
  m.set("X-Custom-Header-Number-Two", "another value long enough to live on the heap");
  m.body() = R"({"email":"someone@example.com"})";
  return m;
}

Message plain_get() {
  Message m{bhttp::verb::get, "/api/v1/internal/users/u2", 11};
  m.set("HOST", "h");
  return m;
}

void expect_same(const Request& a, const Request& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.method_text, b.method_text);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.query, b.query);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.headers, b.headers);
  ASSERT_EQ(a.params.size(), b.params.size());
  for (std::size_t i = 0; i < a.params.size(); ++i) EXPECT_EQ(a.params[i], b.params[i]);
  EXPECT_EQ(a.ctx.request_id, b.ctx.request_id);
  EXPECT_EQ(a.ctx.trace_id, b.ctx.trace_id);
  EXPECT_EQ(a.ctx.span_id, b.ctx.span_id);
  EXPECT_EQ(a.ctx.parent_span_id, b.ctx.parent_span_id);
  EXPECT_EQ(a.ctx.trace_flags, b.ctx.trace_flags);
  EXPECT_EQ(a.ctx.trace_state, b.ctx.trace_state);
  EXPECT_EQ(a.ctx.deadline, b.ctx.deadline);
  EXPECT_EQ(a.ctx.transaction, b.ctx.transaction);
}

TEST(RequestHead, AReusedRequestIsTheRequestItIsFilledWith) {
  Router router;
  router.add(Method::post, "/api/v1/internal/users/{user_id}/a/{rest}", noop);
  router.add(Method::get, "/api/v1/internal/users/{user_id}", noop);

  // The first request of a connection sets every field the server sets.
  Request reused;
  fill_request(reused, post_with_everything());
  reused.body = post_with_everything().body();
  auto parent =
      init_correlation(reused.ctx, reused.header("x-request-id"), reused.header("traceparent"));
  ASSERT_TRUE(parent);
  reused.ctx.parent_span_id = parent->parent_id;
  reused.ctx.trace_flags = 0;
  reused.ctx.trace_state.assign(sane_tracestate(reused.header("tracestate")));
  reused.ctx.deadline = Clock::now();
  reused.ctx.transaction = reinterpret_cast<DbTransaction*>(&reused);
  ASSERT_NE(router.match(reused).handler, nullptr);
  ASSERT_EQ(reused.params.size(), 2u);
  EXPECT_EQ(reused.param("rest"), "b/c");
  EXPECT_EQ(reused.query, "x=1");

  // The next one has less of everything: nothing of the first may remain.
  fill_request(reused, plain_get());
  Request fresh;
  fill_request(fresh, plain_get());
  expect_same(reused, fresh);
  EXPECT_EQ(reused.headers.size(), 1u);
  EXPECT_EQ(reused.header("host"), "h");
  EXPECT_EQ(reused.header("x-request-id"), "");
  EXPECT_TRUE(reused.params.empty());
  EXPECT_EQ(reused.param("user_id"), "");
  EXPECT_EQ(reused.ctx.trace_flags, 1u);
  EXPECT_EQ(reused.ctx.transaction, nullptr);

  ASSERT_NE(router.match(reused).handler, nullptr);
  ASSERT_NE(router.match(fresh).handler, nullptr);
  expect_same(reused, fresh);
  EXPECT_EQ(reused.param("user_id"), "u2");
  EXPECT_EQ(reused.param("rest"), "");

  // And back to the bigger one.
  fill_request(reused, post_with_everything());
  Request fresh_post;
  fill_request(fresh_post, post_with_everything());
  expect_same(reused, fresh_post);
}

TEST(RequestHead, MintedIdsAreFreshOnEveryReuse) {
  RequestContext ctx;
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(init_correlation(ctx, "", ""));
    EXPECT_EQ(ctx.request_id.size(), 32u);
    EXPECT_EQ(ctx.trace_id.size(), 32u);
    EXPECT_EQ(ctx.span_id.size(), 16u);
    ids.insert(ctx.request_id);
    ids.insert(ctx.trace_id);
    ids.insert(ctx.span_id);
  }
  EXPECT_EQ(ids.size(), 150u);
  // An echoed id replaces a minted one completely (no tail of the longer one left).
  ASSERT_TRUE(
      init_correlation(ctx, "short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_EQ(ctx.request_id, "short");
  EXPECT_EQ(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(RequestHead, PathParamsOfAnEarlierMatchNeverLeak) {
  Router router;
  router.add(Method::get, "/a/{x}/{y}", noop);
  router.add(Method::get, "/b/{z}", noop);
  router.add(Method::get, "/c", noop);
  Request req;
  req.method = Method::get;
  req.path = "/a/one/two";
  ASSERT_NE(router.match(req).handler, nullptr);
  EXPECT_EQ(req.params.size(), 2u);
  req.path = "/b/three";
  ASSERT_NE(router.match(req).handler, nullptr);
  ASSERT_EQ(req.params.size(), 1u);
  EXPECT_EQ(req.params[0].first, "z");
  EXPECT_EQ(req.params[0].second, "three");
  EXPECT_EQ(req.param("x"), "");
  req.path = "/c";
  ASSERT_NE(router.match(req).handler, nullptr);
  EXPECT_TRUE(req.params.empty());
  // A bad escape in the second param: the first stays, as before, and none is half-filled.
  req.path = "/a/one/%zz";
  EXPECT_THROW(router.match(req), domain::Error);
  ASSERT_EQ(req.params.size(), 1u);
  EXPECT_EQ(req.param("x"), "one");
  EXPECT_EQ(req.param("y"), "");
}

TEST(RequestHead, APathLongerThanEveryRouteIsNotFound) {
  Router router;
  router.add(Method::get, "/a/{x}", noop);
  Request req;
  req.method = Method::get;
  req.path = "/a";
  for (int i = 0; i < 40; ++i) req.path += "/x";
  const auto m = router.match(req);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_FALSE(m.path_matched);
  std::string longest = "/p";
  for (int i = 1; i < 16; ++i) longest += "/p";
  router.add(Method::get, longest, noop);  // 16 segments: the most a route may have
  req.path = longest;
  EXPECT_NE(router.match(req).handler, nullptr);
  EXPECT_THROW(router.add(Method::get, longest + "/p", noop), std::invalid_argument);
}

}  // namespace
}  // namespace userservice::http
