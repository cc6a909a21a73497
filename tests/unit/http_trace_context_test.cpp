#include "adapters/http/trace_context.h"

#include <gtest/gtest.h>

#include <set>

namespace userservice::http {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(RequestId, Sanitizing) {
  EXPECT_TRUE(is_valid_request_id("a"));
  EXPECT_TRUE(is_valid_request_id("Req-1.2_3:4"));
  EXPECT_TRUE(is_valid_request_id(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id(std::string(129, 'x')));
  for (const char* bad : {"a b", "a/b", "a\"b", "a\nb", "é", "a,b", "a;b", "<script>"}) {
    EXPECT_FALSE(is_valid_request_id(bad)) << bad;
  }
}

TEST(TraceParent, ParsesValid) {
  auto tp = parse_traceparent(kValid);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(tp->flags, 1);
}

TEST(TraceParent, RejectsInvalid) {
  const std::string v(kValid);
  const std::string cases[] = {
      "",
      v.substr(0, 54),
      v + "-",                                                    // version 00 has no suffix
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
      "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7x01",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // future: suffix needs '-'
  };
  for (const auto& c : cases) EXPECT_FALSE(parse_traceparent(c)) << c;
}

TEST(TraceParent, FutureVersionWithSuffix) {
  auto tp = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

bool is_hex(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(Correlation, EchoesAndContinues) {
  RequestContext ctx;
  auto tp = init_correlation(ctx, "req-42", kValid);
  ASSERT_TRUE(tp);
  EXPECT_EQ(ctx.request_id, "req-42");
  EXPECT_EQ(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(is_hex(ctx.span_id, 16));
  EXPECT_NE(ctx.span_id, "00f067aa0ba902b7");  // our own span, child of the caller's
}

TEST(Correlation, MintsWhenMissingOrInsane) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    RequestContext ctx;
    EXPECT_FALSE(init_correlation(ctx, i % 2 ? "" : "bad id!", "garbage"));
    EXPECT_TRUE(is_hex(ctx.request_id, 32));
    EXPECT_TRUE(is_hex(ctx.trace_id, 32));
    EXPECT_TRUE(is_hex(ctx.span_id, 16));
    ids.insert(ctx.request_id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace userservice::http
