#include "telemetry/otlp.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <limits>

using namespace userservice::telemetry;
namespace json = boost::json;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

SpanData small_span() {
  SpanData s;
  s.trace_id = "0102030405060708090a0b0c0d0e0f10";
  s.span_id = "1112131415161718";
  s.name = "x";
  s.kind = SpanKind::server;
  s.start_unix_nano = 1;
  s.end_unix_nano = 2;
  s.flags = 1;
  return s;
}

Resource one_attribute_resource() { return Resource{{{"k", std::string("v")}}}; }

const json::value& at(const json::value& v, std::string_view key) { return v.as_object().at(key); }

}  // namespace

// Every byte computed by hand from trace.proto / common.proto / resource.proto field numbers.
TEST(OtlpTraces, ProtobufBytesOfOneSpan) {
  // clang-format off
  const std::string span =
      bytes({0x0a, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,  // trace_id = 1
             0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,         // span_id = 2
             0x2a, 0x01, 'x',                                                    // name = 5
             0x30, 0x02,                                                         // kind = 6
             0x39, 1, 0, 0, 0, 0, 0, 0, 0,                  // start_time_unix_nano = 7 fixed64
             0x41, 2, 0, 0, 0, 0, 0, 0, 0,                  // end_time_unix_nano = 8 fixed64
             0x85, 0x01, 1, 0, 0, 0});                      // flags = 16 fixed32
  // clang-format on
  ASSERT_EQ(span.size(), 57u);
  const std::string scope = bytes({0x0a, 0x0d, 0x0a, 0x0b}) + "userservice";  // scope = 1{name=1}
  const std::string scope_spans = scope + bytes({0x12, 0x39}) + span;         // spans = 2
  ASSERT_EQ(scope_spans.size(), 74u);
  // Resource{attributes=1: KeyValue{key=1 "k", value=2: AnyValue{string_value=1 "v"}}}
  const std::string resource =
      bytes({0x0a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x03, 0x0a, 0x01, 'v'});
  const std::string resource_spans = resource + bytes({0x12, 0x4a}) + scope_spans;
  ASSERT_EQ(resource_spans.size(), 88u);
  const std::string expected = bytes({0x0a, 0x58}) + resource_spans;  // resource_spans = 1

  SpanData s = small_span();
  EXPECT_EQ(encode_traces_protobuf(one_attribute_resource(), std::span(&s, 1)), expected);
}

TEST(OtlpTraces, ProtobufParentStatusAndAttributes) {
  SpanData s = small_span();
  s.parent_span_id = "2122232425262728";
  s.status = SpanStatus::error;
  s.status_message = "boom";
  s.attributes = {{"n", std::int64_t{-1}}, {"b", true}, {"d", 0.5}};
  const std::string out = encode_traces_protobuf(Resource{}, std::span(&s, 1));
  // parent_span_id = 4 (bytes)
  EXPECT_NE(out.find(bytes({0x22, 0x08, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28})),
            std::string::npos);
  // status = 15 { message = 2 "boom"; code = 3 (2) }
  EXPECT_NE(out.find(bytes({0x7a, 0x08, 0x12, 0x04, 'b', 'o', 'o', 'm', 0x18, 0x02})),
            std::string::npos);
  // attributes = 9: KeyValue{key "n", value AnyValue{int_value = 3 (-1 as 10-byte varint)}}
  EXPECT_NE(out.find(bytes({0x4a, 0x10, 0x0a, 0x01, 'n', 0x12, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0x01})),
            std::string::npos);
  // KeyValue{"b", AnyValue{bool_value = 2 true}}
  EXPECT_NE(out.find(bytes({0x4a, 0x07, 0x0a, 0x01, 'b', 0x12, 0x02, 0x10, 0x01})),
            std::string::npos);
  // KeyValue{"d", AnyValue{double_value = 4: 0.5 = 0x3FE0000000000000}}
  EXPECT_NE(out.find(bytes(
                {0x4a, 0x0e, 0x0a, 0x01, 'd', 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f})),
            std::string::npos);
}

TEST(OtlpTraces, NoSpansNoEnvelope) {
  EXPECT_EQ(encode_traces_protobuf(one_attribute_resource(), {}), "");
  auto v = json::parse(encode_traces_json(one_attribute_resource(), {}));
  EXPECT_TRUE(at(v, "resourceSpans").as_array().empty());
}

TEST(OtlpTraces, JsonShape) {
  SpanData s = small_span();
  s.parent_span_id = "2122232425262728";
  s.trace_state = "a=b";
  s.start_unix_nano = 1700000000123456789ull;
  s.end_unix_nano = 1700000000223456789ull;
  s.status = SpanStatus::error;
  s.status_message = "bad \"thing\"";
  s.attributes = {{"http.response.status_code", std::int64_t{503}},
                  {"url.path", std::string("/a\nb")},
                  {"ok", false},
                  {"ratio", 0.25}};
  auto v = json::parse(encode_traces_json(one_attribute_resource(), std::span(&s, 1)));
  const auto& rs = at(v, "resourceSpans").as_array().at(0);
  const auto& rattr = at(at(rs, "resource"), "attributes").as_array().at(0);
  EXPECT_EQ(at(rattr, "key").as_string(), "k");
  EXPECT_EQ(at(at(rattr, "value"), "stringValue").as_string(), "v");
  const auto& ss = at(rs, "scopeSpans").as_array().at(0);
  EXPECT_EQ(at(at(ss, "scope"), "name").as_string(), "userservice");
  const auto& span = at(ss, "spans").as_array().at(0);
  // Ids are hex (not base64), enums are integers, 64-bit integers are decimal strings.
  EXPECT_EQ(at(span, "traceId").as_string(), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(at(span, "spanId").as_string(), "1112131415161718");
  EXPECT_EQ(at(span, "parentSpanId").as_string(), "2122232425262728");
  EXPECT_EQ(at(span, "traceState").as_string(), "a=b");
  EXPECT_EQ(at(span, "kind").as_int64(), 2);
  EXPECT_EQ(at(span, "flags").as_int64(), 1);
  EXPECT_EQ(at(span, "startTimeUnixNano").as_string(), "1700000000123456789");
  EXPECT_EQ(at(span, "endTimeUnixNano").as_string(), "1700000000223456789");
  EXPECT_EQ(at(at(span, "status"), "code").as_int64(), 2);
  EXPECT_EQ(at(at(span, "status"), "message").as_string(), "bad \"thing\"");
  const auto& attrs = at(span, "attributes").as_array();
  ASSERT_EQ(attrs.size(), 4u);
  EXPECT_EQ(at(at(attrs[0], "value"), "intValue").as_string(), "503");
  EXPECT_EQ(at(at(attrs[1], "value"), "stringValue").as_string(), "/a\nb");
  EXPECT_EQ(at(at(attrs[2], "value"), "boolValue").as_bool(), false);
  EXPECT_EQ(at(at(attrs[3], "value"), "doubleValue").to_number<double>(), 0.25);
}

TEST(OtlpTraces, InvalidUtf8IsReplaced) {
  SpanData s = small_span();
  s.name = std::string(
      "a\xff"
      "b");
  s.attributes = {{"v", std::string("\xc3\x28")}};
  auto v = json::parse(encode_traces_json(Resource{}, std::span(&s, 1)));
  const auto& span = at(at(v, "resourceSpans").as_array()[0], "scopeSpans")
                         .as_array()[0]
                         .as_object()
                         .at("spans")
                         .as_array()[0];
  EXPECT_EQ(at(span, "name").as_string(),
            "a\xEF\xBF\xBD"
            "b");
  const std::string pb = encode_traces_protobuf(Resource{}, std::span(&s, 1));
  EXPECT_NE(pb.find(bytes({0x2a, 0x05, 'a', 0xef, 0xbf, 0xbd, 'b'})), std::string::npos);
}

TEST(OtlpMetrics, NamingRule) {
  auto check = [](std::string_view prom, std::string_view name, std::string_view unit) {
    auto n = otel_metric_name(prom);
    EXPECT_EQ(n.name, name) << prom;
    EXPECT_EQ(n.unit, unit) << prom;
  };
  check("http_server_request_duration_seconds", "http.server.request.duration", "s");
  check("db_sql_connection_open", "db.sql.connection.open", "");
  check("db_sql_connection_max_open", "db.sql.connection.max_open", "");
  check("db_sql_connection_wait_total", "db.sql.connection.wait", "");
  check("db_sql_connection_wait_duration_milliseconds_total", "db.sql.connection.wait_duration",
        "ms");
  check("db_sql_connection_closed_max_idle_total", "db.sql.connection.closed_max_idle", "");
  check("db_sql_connection_closed_max_idle_time_total", "db.sql.connection.closed_max_idle_time",
        "");
  check("db_sql_connection_closed_max_lifetime_total", "db.sql.connection.closed_max_lifetime", "");
  check("http_server_active_requests", "http.server.active_requests", "");
  check("http_server_requests_total", "http.server.requests", "");
  check("db_client_operation_duration_seconds", "db.client.operation.duration", "s");
  check("cache_hit_ratio", "cache.hit", "1");
  check("payload_bytes", "payload", "By");
  check("process_cpu_seconds_total", "process.cpu.time", "s");  // override table
  check("total", "total", "");
  check("up", "up", "");
}

TEST(OtlpMetrics, HistogramBucketsBecomePerBucketCounts) {
  prometheus::MetricFamily fam;
  fam.name = "op_duration_seconds";
  fam.help = "Op duration.";
  fam.type = prometheus::MetricType::Histogram;
  prometheus::ClientMetric cm;
  cm.label = {{"route", "/x"}};
  cm.histogram.sample_count = 6;
  cm.histogram.sample_sum = 3.5;
  const double inf = std::numeric_limits<double>::infinity();
  cm.histogram.bucket = {{1, 0.1}, {3, 0.5}, {3, 1.0}, {6, inf}};
  fam.metric.push_back(cm);
  auto metrics = to_otel_metrics(std::span(&fam, 1));
  ASSERT_EQ(metrics.size(), 1u);
  const auto& m = metrics[0];
  EXPECT_EQ(m.name, "op.duration");
  EXPECT_EQ(m.unit, "s");
  EXPECT_EQ(m.description, "Op duration.");
  EXPECT_EQ(m.kind, MetricKind::histogram);
  ASSERT_EQ(m.points.size(), 1u);
  const auto& p = m.points[0];
  EXPECT_EQ(p.bounds, (std::vector<double>{0.1, 0.5, 1.0}));  // +Inf is implicit
  EXPECT_EQ(p.bucket_counts, (std::vector<std::uint64_t>{1, 2, 0, 3}));
  EXPECT_EQ(p.count, 6u);
  EXPECT_EQ(p.sum, 3.5);
  EXPECT_EQ(p.attributes, (StringPairs{{"route", "/x"}}));
}

TEST(OtlpMetrics, FromARealRegistry) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("jobs_total")
      .Help("Jobs.")
      .Register(registry)
      .Add({{"kind", "a"}})
      .Increment(3);
  prometheus::BuildGauge().Name("queue_depth").Help("Depth.").Register(registry).Add({}).Set(7);
  auto& h = prometheus::BuildHistogram()
                .Name("lat_seconds")
                .Help("Lat.")
                .Register(registry)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.7);
  h.Observe(5);
  prometheus::BuildCounter().Name("unused_total").Help("No series.").Register(registry);
  auto families = registry.Collect();
  auto metrics = to_otel_metrics(families);
  ASSERT_EQ(metrics.size(), 3u);  // the family without series is skipped
  for (const auto& m : metrics) {
    if (m.name == "jobs") {
      EXPECT_EQ(m.kind, MetricKind::sum);
      EXPECT_TRUE(m.monotonic);
      EXPECT_EQ(m.points.at(0).value, 3);
    } else if (m.name == "queue.depth") {
      EXPECT_EQ(m.kind, MetricKind::gauge);
      EXPECT_EQ(m.points.at(0).value, 7);
    } else {
      EXPECT_EQ(m.name, "lat");
      EXPECT_EQ(m.points.at(0).bounds, (std::vector<double>{0.1, 1}));
      EXPECT_EQ(m.points.at(0).bucket_counts, (std::vector<std::uint64_t>{1, 2, 1}));
      EXPECT_EQ(m.points.at(0).count, 4u);
    }
  }
}

// Computed by hand from metrics.proto field numbers.
TEST(OtlpMetrics, ProtobufBytesOfOneGauge) {
  OtelMetric g;
  g.name = "g";
  g.kind = MetricKind::gauge;
  g.points.push_back(MetricPoint{.value = 1.0});
  const std::string point = bytes({0x19, 5, 0, 0, 0, 0, 0, 0, 0,            // time_unix_nano = 3
                                   0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f});    // as_double = 4
  const std::string gauge = bytes({0x0a, 0x12}) + point;                    // data_points = 1
  const std::string metric = bytes({0x0a, 0x01, 'g', 0x2a, 0x14}) + gauge;  // name=1, gauge=5
  ASSERT_EQ(metric.size(), 25u);
  const std::string scope = bytes({0x0a, 0x0d, 0x0a, 0x0b}) + "userservice";
  const std::string scope_metrics = scope + bytes({0x12, 0x19}) + metric;  // metrics = 2
  const std::string resource_metrics =
      bytes({0x0a, 0x00, 0x12, 0x2a}) + scope_metrics;  // resource = 1, scope_metrics = 2
  const std::string expected = bytes({0x0a, 0x2e}) + resource_metrics;
  EXPECT_EQ(encode_metrics_protobuf(Resource{}, std::span(&g, 1), 3, 5), expected);
}

TEST(OtlpMetrics, ProtobufSumAndHistogramFields) {
  OtelMetric s;
  s.name = "s";
  s.kind = MetricKind::sum;
  s.monotonic = true;
  s.points.push_back(MetricPoint{.value = 2.0});
  OtelMetric h;
  h.name = "h";
  h.kind = MetricKind::histogram;
  h.points.push_back(MetricPoint{.count = 3, .sum = 0.5, .bounds = {1.0}, .bucket_counts = {2, 1}});
  std::vector<OtelMetric> both{s, h};
  const std::string out = encode_metrics_protobuf(Resource{}, both, 3, 5);
  // Sum = 7 { data_points = 1 {start=2, time=3, as_double=4}, temporality = 2 (2), monotonic = 3 }
  // clang-format off
  const std::string sum = bytes({0x3a, 0x21, 0x0a, 0x1b, 0x11, 3, 0, 0, 0, 0, 0, 0, 0, 0x19, 5, 0,
                                 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0x02,
                                 0x18, 0x01});
  // clang-format on
  EXPECT_NE(out.find(sum), std::string::npos);
  // HistogramDataPoint: count = 4 fixed64, sum = 5 double, bucket_counts = 6 packed,
  // explicit_bounds = 7 packed.
  // clang-format off
  const std::string point_tail =
      bytes({0x21, 3, 0, 0, 0, 0, 0, 0, 0,                                    // count
             0x29, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f,                              // sum
             0x32, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,      // bucket_counts
             0x3a, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f});                      // explicit_bounds
  // clang-format on
  EXPECT_NE(out.find(point_tail), std::string::npos);
  EXPECT_NE(out.find(bytes({0x4a})), std::string::npos);  // histogram = 9
}

TEST(OtlpMetrics, JsonShape) {
  OtelMetric s{.name = "jobs",
               .description = "Jobs.",
               .unit = "",
               .prometheus_name = "jobs_total",
               .kind = MetricKind::sum,
               .monotonic = true};
  s.points.push_back(MetricPoint{.attributes = {{"kind", "a"}}, .value = 3});
  OtelMetric h{.name = "lat", .unit = "s", .kind = MetricKind::histogram};
  h.points.push_back(
      MetricPoint{.count = 3, .sum = 0.5, .bounds = {0.1, 1}, .bucket_counts = {1, 1, 1}});
  OtelMetric g{.name = "depth", .kind = MetricKind::gauge};
  g.points.push_back(MetricPoint{.value = std::numeric_limits<double>::quiet_NaN()});
  std::vector<OtelMetric> all{s, h, g};
  auto v = json::parse(encode_metrics_json(make_resource("svc"), all, 100, 200));
  const auto& rm = at(v, "resourceMetrics").as_array().at(0);
  const auto& metrics = at(at(rm, "scopeMetrics").as_array().at(0), "metrics").as_array();
  ASSERT_EQ(metrics.size(), 3u);
  const auto& sum = at(metrics[0], "sum");
  EXPECT_EQ(at(sum, "aggregationTemporality").as_int64(), 2);
  EXPECT_TRUE(at(sum, "isMonotonic").as_bool());
  const auto& sp = at(sum, "dataPoints").as_array().at(0);
  EXPECT_EQ(at(sp, "asDouble").to_number<double>(), 3.0);
  EXPECT_EQ(at(sp, "startTimeUnixNano").as_string(), "100");
  EXPECT_EQ(at(sp, "timeUnixNano").as_string(), "200");
  EXPECT_EQ(at(at(at(sp, "attributes").as_array().at(0), "value"), "stringValue").as_string(), "a");
  const auto& hp = at(at(metrics[1], "histogram"), "dataPoints").as_array().at(0);
  EXPECT_EQ(at(metrics[1], "unit").as_string(), "s");
  EXPECT_EQ(at(hp, "count").as_string(), "3");
  EXPECT_EQ(at(hp, "bucketCounts").as_array().at(2).as_string(), "1");
  EXPECT_EQ(at(hp, "explicitBounds").as_array().at(0).to_number<double>(), 0.1);
  const auto& gp = at(at(metrics[2], "gauge"), "dataPoints").as_array().at(0);
  EXPECT_EQ(at(gp, "asDouble").as_string(), "NaN");
  EXPECT_FALSE(gp.as_object().contains("startTimeUnixNano"));
}

TEST(OtlpResource, Attributes) {
  Resource r = make_resource("users-eu", {{"deployment.environment", "prod"},
                                          {"service.name", "ignored"},
                                          {"telemetry.sdk.name", "custom"}});
  EXPECT_EQ(resource_string(r, "service.name"), "users-eu");
  EXPECT_EQ(resource_string(r, "telemetry.sdk.language"), "cpp");
  EXPECT_EQ(resource_string(r, "telemetry.sdk.name"), "custom");
  EXPECT_EQ(resource_string(r, "deployment.environment"), "prod");
  const std::string id = resource_string(r, "service.instance.id");
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');  // UUID version 4
  EXPECT_NE(resource_string(make_resource("x"), "service.instance.id"), id);
  EXPECT_EQ(resource_string(make_resource("x", {{"service.instance.id", "pod-1"}}),
                            "service.instance.id"),
            "pod-1");
}

TEST(OtlpResource, InstanceIdIsALowerCaseUuidVersion4) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = resource_string(make_resource("x"), "service.instance.id");
    ASSERT_EQ(id.size(), 36u);
    for (std::size_t k = 0; k < id.size(); ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) {
        EXPECT_EQ(id[k], '-') << id;
      } else {
        EXPECT_NE(std::string_view("0123456789abcdef").find(id[k]), std::string_view::npos) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                                    // version 4
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;  // RFC 4122
  }
}

TEST(OtlpResponse, PartialSuccess) {
  auto pb = parse_partial_success(bytes({0x0a, 0x05, 0x08, 0x03, 0x12, 0x01, 'x'}), false);
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->rejected, 3);
  EXPECT_EQ(pb->error_message, "x");
  EXPECT_FALSE(parse_partial_success("", false));
  EXPECT_FALSE(parse_partial_success("", true));
  EXPECT_FALSE(parse_partial_success("{}", true));
  auto js = parse_partial_success(
      R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad"}})", true);
  ASSERT_TRUE(js);
  EXPECT_EQ(js->rejected, 2);
  EXPECT_EQ(js->error_message, "bad");
  auto num = parse_partial_success(R"({"partialSuccess":{"rejectedDataPoints":5}})", true);
  ASSERT_TRUE(num);
  EXPECT_EQ(num->rejected, 5);
  EXPECT_FALSE(parse_partial_success(bytes({0x0a, 0x7f}), false));  // truncated
}

TEST(OtlpStdout, SpanLineIsJson) {
  SpanData s = small_span();
  s.start_unix_nano = 1'000'000;
  s.end_unix_nano = 3'500'000;
  s.attributes = {{"http.route", std::string("/x")}, {"n", std::int64_t{7}}};
  std::string out;
  append_span_json_line(out, s, "svc");
  ASSERT_EQ(out.back(), '\n');
  auto v = json::parse(out);
  EXPECT_EQ(at(v, "type").as_string(), "span");
  EXPECT_EQ(at(v, "service").as_string(), "svc");
  EXPECT_EQ(at(v, "kind").as_string(), "server");
  EXPECT_EQ(at(v, "duration_ms").to_number<double>(), 2.5);
  EXPECT_EQ(at(v, "parent_span_id").as_string(), "");
  EXPECT_EQ(at(at(v, "attributes"), "n").as_int64(), 7);
  EXPECT_EQ(at(at(v, "attributes"), "http.route").as_string(), "/x");
}

TEST(OtlpStdout, MetricLinesAreJson) {
  OtelMetric h{
      .name = "lat", .unit = "s", .prometheus_name = "lat_seconds", .kind = MetricKind::histogram};
  h.points.push_back(MetricPoint{
      .attributes = {{"a", "1"}}, .count = 1, .sum = 0.5, .bounds = {1}, .bucket_counts = {1, 0}});
  h.points.push_back(MetricPoint{.attributes = {{"a", "2"}}, .bucket_counts = {0}});
  std::string out;
  append_metric_json_lines(out, h, 42, "svc");
  std::size_t lines = 0;
  for (std::size_t start = 0; start < out.size();) {
    auto nl = out.find('\n', start);
    ASSERT_NE(nl, std::string::npos);
    auto v = json::parse(std::string_view(out).substr(start, nl - start));
    EXPECT_EQ(at(v, "type").as_string(), "metric");
    EXPECT_EQ(at(v, "kind").as_string(), "histogram");
    EXPECT_EQ(at(v, "time_unix_nano").as_string(), "42");
    start = nl + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 2u);
}
