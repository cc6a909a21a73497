#include <gtest/gtest.h>

#include <regex>

#include "common/context.h"
#include "telemetry/tracer.h"

namespace userservice::telemetry {
namespace {

struct Collecting : SpanProcessor {
  std::vector<SpanData>* out;
  explicit Collecting(std::vector<SpanData>* o) : out(o) {}
  void on_end(const SpanData& span) override { out->push_back(span); }
  void shutdown(std::chrono::steady_clock::time_point) override {}
};

RequestContext traced_ctx() {
  RequestContext ctx;
  ctx.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  ctx.span_id = "00f067aa0ba902b7";
  ctx.trace_flags = 1;
  ctx.trace_state = "vendor=x";
  return ctx;
}

TEST(Tracer, DisabledWithoutProcessors) {
  Tracer tracer;
  EXPECT_FALSE(tracer.enabled());
  EXPECT_FALSE(tracer.recording(traced_ctx()));
}

TEST(Tracer, RecordsOnlySampledRequestsWithATrace) {
  std::vector<SpanData> spans;
  Tracer tracer;
  tracer.add_processor(std::make_unique<Collecting>(&spans));
  RequestContext ctx = traced_ctx();
  EXPECT_TRUE(tracer.recording(ctx));
  ctx.trace_flags = 0;  // the caller decided not to sample
  EXPECT_FALSE(tracer.recording(ctx));
  RequestContext none;  // background work without a trace
  EXPECT_FALSE(tracer.recording(none));
}

TEST(Tracer, ChildSpanNamesTheServerSpanAsParentAndKeepsTraceState) {
  std::vector<SpanData> spans;
  Tracer tracer;
  tracer.add_processor(std::make_unique<Collecting>(&spans));
  const RequestContext ctx = traced_ctx();
  SpanData span = tracer.child_of(ctx, "account_state_by_id", SpanKind::client);
  tracer.end(std::move(span));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].trace_id, ctx.trace_id);
  EXPECT_EQ(spans[0].parent_span_id, ctx.span_id);
  EXPECT_NE(spans[0].span_id, ctx.span_id);
  EXPECT_TRUE(std::regex_match(spans[0].span_id, std::regex("^[0-9a-f]{16}$")));
  EXPECT_EQ(spans[0].trace_state, "vendor=x");
  EXPECT_EQ(spans[0].name, "account_state_by_id");
  EXPECT_EQ(spans[0].kind, SpanKind::client);
  EXPECT_GT(spans[0].start_unix_nano, 0u);
  EXPECT_GE(spans[0].end_unix_nano, spans[0].start_unix_nano);
}

TEST(Tracer, NewIdsAreLowerHexAndNeverZero) {
  for (int i = 0; i < 100; ++i) {
    const std::string s = new_span_id();
    const std::string t = new_trace_id();
    EXPECT_TRUE(std::regex_match(s, std::regex("^[0-9a-f]{16}$"))) << s;
    EXPECT_TRUE(std::regex_match(t, std::regex("^[0-9a-f]{32}$"))) << t;
    EXPECT_NE(s, std::string(16, '0'));
    EXPECT_NE(t, std::string(32, '0'));
  }
}

TEST(Traceparent, FormatsTheServerSpan) {
  RequestContext ctx = traced_ctx();
  EXPECT_EQ(traceparent_of(ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ctx.trace_flags = 0;
  EXPECT_EQ(traceparent_of(ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  RequestContext none;
  EXPECT_EQ(traceparent_of(none), "");
}

}  // namespace
}  // namespace userservice::telemetry
