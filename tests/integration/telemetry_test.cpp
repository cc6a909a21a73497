// Traces and metrics leave the real binary over OTLP/HTTP (both encodings) and stdout, decoded
// by the test's own receiver; a collector that never answers does not hold up requests.
#include <gtest/gtest.h>

#include <csignal>

#include "integration/account_helpers.h"
#include "support/otlp_receiver.h"

namespace userservice::testing {
namespace {

using namespace std::chrono_literals;
using acct::ensure;
using acct::unique_email;

const std::string kEnsureRoute = "/api/v1/internal/users/ensure-by-email";

std::map<std::string, std::string> otlp_env(const OtlpReceiver& receiver,
                                            const std::string& protocol) {
  return {{"OTEL_TRACES_EXPORTER", "otlp"},
          {"OTEL_METRICS_EXPORTER", "otlp"},
          {"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_endpoint()},
          {"OTEL_EXPORTER_OTLP_PROTOCOL", protocol},
          {"OTEL_SERVICE_NAME", "userservice-telemetry-test"},
          {"OTEL_BSP_SCHEDULE_DELAY", "50"},
          {"OTEL_METRIC_EXPORT_INTERVAL", "300"},
          {"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}};
}

const ReceivedSpan* find_span(const std::vector<ReceivedSpan>& spans, const std::string& trace_id,
                              int kind, const std::string& name_prefix = "") {
  for (const auto& s : spans) {
    if (s.trace_id == trace_id && s.kind == kind && s.name.rfind(name_prefix, 0) == 0) return &s;
  }
  return nullptr;
}

const ReceivedMetric* find_metric(const std::vector<ReceivedMetric>& metrics,
                                  const std::string& name) {
  for (auto it = metrics.rbegin(); it != metrics.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

class TelemetryOtlp : public ::testing::TestWithParam<std::string> {};

TEST_P(TelemetryOtlp, SpansAndMetricsArriveWithNamesAttributesAndLinks) {
  OtlpReceiver receiver;
  auto service = start_service(otlp_env(receiver, GetParam()));
  const std::string encoding = GetParam() == "http/json" ? "json" : "protobuf";

  const std::string trace_id = acct::random_hex(32);
  const std::string caller_span = acct::random_hex(16);
  const auto r = ensure(service, unique_email("otel"),
                        {{"traceparent", "00-" + trace_id + "-" + caller_span + "-01"},
                         {"tracestate", "vendor=abc,other=1"}});
  ASSERT_EQ(r.status, 201u) << r.body;

  // Server span, statement spans under it, and the relay's publish span under it too.
  ASSERT_TRUE(receiver.wait_for_spans(
      [&](const std::vector<ReceivedSpan>& spans) {
        return find_span(spans, trace_id, 2) && find_span(spans, trace_id, 3) &&
               find_span(spans, trace_id, 4);
      },
      15s))
      << "spans received: " << receiver.spans().size();
  const auto spans = receiver.spans();
  const ReceivedSpan& server = *find_span(spans, trace_id, 2);
  EXPECT_EQ(server.encoding, encoding);
  EXPECT_EQ(server.name, "POST " + kEnsureRoute);
  EXPECT_EQ(server.parent_span_id, caller_span);
  EXPECT_EQ(server.trace_state, "vendor=abc,other=1");
  EXPECT_EQ(server.service_name, "userservice-telemetry-test");
  EXPECT_EQ(server.status_code, 0);
  ASSERT_TRUE(server.attribute("http.response.status_code"));
  EXPECT_EQ(to_string(*server.attribute("http.response.status_code")), "201");
  ASSERT_TRUE(server.attribute("http.route"));
  EXPECT_EQ(to_string(*server.attribute("http.route")), "\"" + kEnsureRoute + "\"");
  EXPECT_LE(server.start_unix_nano, server.end_unix_nano);

  int statements = 0;
  for (const auto& s : spans) {
    if (s.trace_id != trace_id || s.kind != 3) continue;
    ++statements;
    EXPECT_EQ(s.parent_span_id, server.span_id) << s.name;
    EXPECT_NE(s.span_id, server.span_id);
    ASSERT_TRUE(s.attribute("db.system")) << s.name;
    EXPECT_EQ(to_string(*s.attribute("db.system")), "\"postgresql\"");
    ASSERT_TRUE(s.attribute("db.operation.name"));
    EXPECT_EQ(to_string(*s.attribute("db.operation.name")), "\"" + s.name + "\"");
    EXPECT_GE(s.start_unix_nano, server.start_unix_nano);
    EXPECT_LE(s.end_unix_nano, server.end_unix_nano);
  }
  EXPECT_GE(statements, 1);
  const ReceivedSpan& publish = *find_span(spans, trace_id, 4);
  EXPECT_EQ(publish.parent_span_id, server.span_id);
  EXPECT_EQ(publish.name.rfind("publish ", 0), 0u) << publish.name;
  ASSERT_TRUE(publish.attribute("messaging.system"));
  EXPECT_EQ(to_string(*publish.attribute("messaging.system")), "\"redis\"");

  // Metrics: the HTTP histogram, the pool family and process metrics, with OTel names.
  ASSERT_TRUE(receiver.wait_for_metrics(
      [&](const std::vector<ReceivedMetric>& metrics) {
        const ReceivedMetric* http = find_metric(metrics, "http.server.request.duration");
        return http && !http->points.empty() && find_metric(metrics, "db.sql.connection.open") &&
               find_metric(metrics, "process.memory.usage");
      },
      15s))
      << [&] {
           std::string names;
           for (const auto& m : receiver.metrics()) names += m.name + " ";
           return names;
         }();
  const auto metrics = receiver.metrics();
  const ReceivedMetric& http = *find_metric(metrics, "http.server.request.duration");
  EXPECT_EQ(http.encoding, encoding);
  EXPECT_EQ(http.type, "histogram");
  EXPECT_EQ(http.unit, "s");
  EXPECT_EQ(http.temporality, 2);
  bool ensure_point = false;
  for (const auto& p : http.points) {
    auto route = p.attributes.find("route");
    if (route == p.attributes.end() || to_string(route->second) != "\"" + kEnsureRoute + "\"") {
      continue;
    }
    ensure_point = true;
    EXPECT_GE(p.count, 1u);
    EXPECT_EQ(p.bucket_counts.size(), p.explicit_bounds.size() + 1);
  }
  EXPECT_TRUE(ensure_point);
  const ReceivedMetric& open = *find_metric(metrics, "db.sql.connection.open");
  EXPECT_EQ(open.type, "gauge");
  std::set<std::string> statuses;
  for (const auto& p : open.points) {
    auto st = p.attributes.find("status");
    if (st != p.attributes.end()) statuses.insert(to_string(st->second));
  }
  EXPECT_TRUE(statuses.count("\"idle\"") && statuses.count("\"inuse\""));
  EXPECT_TRUE(receiver.errors().empty()) << receiver.errors().front();

  // The access log line of the request carries the same trace id.
  const std::string out = service.process->stdout_text();
  EXPECT_NE(out.find("\"trace_id\":\"" + trace_id + "\""), std::string::npos);

  // Graceful shutdown flushes: spans of a request answered just before SIGTERM arrive.
  const std::string last_trace = acct::random_hex(32);
  ASSERT_EQ(ensure(service, unique_email("otel-last"),
                   {{"traceparent", "00-" + last_trace + "-" + acct::random_hex(16) + "-01"}})
                .status,
            201u);
  service.process->signal(SIGTERM);
  EXPECT_EQ(service.process->wait_exit(15s), std::optional<int>(0));
  EXPECT_TRUE(find_span(receiver.spans(), last_trace, 2) != nullptr);
}

INSTANTIATE_TEST_SUITE_P(Encodings, TelemetryOtlp, ::testing::Values("http/protobuf", "http/json"),
                         [](const auto& info) {
                           return info.param == "http/json" ? std::string("json")
                                                            : std::string("protobuf");
                         });

TEST(Telemetry, UnsampledTraceparentRecordsNoSpans) {
  OtlpReceiver receiver;
  auto service = start_service(otlp_env(receiver, "http/protobuf"));
  const std::string unsampled = acct::random_hex(32);
  ASSERT_EQ(ensure(service, unique_email("unsampled"),
                   {{"traceparent", "00-" + unsampled + "-" + acct::random_hex(16) + "-00"}})
                .status,
            201u);
  const std::string sampled = acct::random_hex(32);
  ASSERT_EQ(ensure(service, unique_email("sampled"),
                   {{"traceparent", "00-" + sampled + "-" + acct::random_hex(16) + "-01"}})
                .status,
            201u);
  // The sampled request's publish span is the last span of both requests to be recorded.
  ASSERT_TRUE(receiver.wait_for_spans(
      [&](const auto& spans) { return find_span(spans, sampled, 4) != nullptr; }, 15s));
  for (const auto& s : receiver.spans()) EXPECT_NE(s.trace_id, unsampled) << s.name;
}

TEST(Telemetry, HungCollectorDoesNotHoldRequestsOrShutdown) {
  OtlpReceiver receiver;
  receiver.set_black_hole(true);
  auto env = otlp_env(receiver, "http/protobuf");
  env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "30000";  // the exporter would wait this long
  env["OTEL_BSP_EXPORT_TIMEOUT"] = "30000";
  env["OTEL_METRIC_EXPORT_TIMEOUT"] = "30000";
  env["USERSERVICE_SHUTDOWN_TIMEOUT"] = "2s";
  auto service = start_service(env);
  ASSERT_EQ(ensure(service, unique_email("hung")).status, 201u);
  // An export is now stuck in the collector; requests go on being served meanwhile.
  ASSERT_TRUE(receiver.wait_for_requests(1, 10s));
  for (int i = 0; i < 200; ++i) {
    const auto r = ensure(service, unique_email("hung"));
    ASSERT_EQ(r.status, 201u) << r.body;
  }
  // Shutdown is bounded by USERSERVICE_SHUTDOWN_TIMEOUT, not by the 30s export timeout.
  const auto before = std::chrono::steady_clock::now();
  service.process->signal(SIGTERM);
  const auto code = service.process->wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << "service did not exit";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);  // a bound, not a benchmark
}

TEST(Telemetry, StdoutExportersPrintJsonLines) {
  auto service = start_service({{"OTEL_TRACES_EXPORTER", "none"},
                                {"OTEL_METRICS_EXPORTER", "none"},
                                {"USERSERVICE_OTEL_STDOUT_TRACES_ENABLED", "true"},
                                {"USERSERVICE_OTEL_STDOUT_METRICS_ENABLED", "true"},
                                {"OTEL_BSP_SCHEDULE_DELAY", "50"},
                                {"OTEL_METRIC_EXPORT_INTERVAL", "200"}});
  std::string trace_id;
  ASSERT_EQ(ensure(service, unique_email("stdout"), acct::trace_headers(trace_id)).status, 201u);
  // The request's spans (server and statement) may leave in separate export batches
  // (OTEL_BSP_SCHEDULE_DELAY apart): wait for two, not for the first.
  const bool seen = acct::eventually([&] {
    const std::string out = service.process->stdout_text();
    std::size_t span_lines = 0;
    for (auto at = out.find("\"type\":\"span\""); at != std::string::npos;
         at = out.find("\"type\":\"span\"", at + 1)) {
      ++span_lines;
    }
    return span_lines >= 2 && out.find(trace_id) != std::string::npos &&
           out.find("\"type\":\"metric\"") != std::string::npos;
  });
  ASSERT_TRUE(seen) << service.process->stdout_text();
  // Every stdout line (logs, spans, metrics) is one JSON object.
  std::istringstream lines(service.process->stdout_text());
  int spans = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(v.is_object()) << line;
    if (auto* t = v.as_object().if_contains("type"); t && *t == "span") {
      ++spans;
      if (v.as_object().at("trace_id") == trace_id.c_str()) {
        EXPECT_TRUE(v.as_object().contains("span_id")) << line;
      }
    }
  }
  EXPECT_GE(spans, 2);
}

TEST(Telemetry, UnsupportedProtocolIsAStartupError) {
  auto env =
      service_env(shared_pg().create_database(), free_loopback_port(),
                  {{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, {"OTEL_TRACES_EXPORTER", "otlp"}});
  ServiceProcess p(USERSERVICE_BINARY, env);
  p.start();
  const auto code = p.wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(p.stderr_text().find("OTEL_EXPORTER_OTLP_PROTOCOL"), std::string::npos)
      << p.stderr_text();
}

}  // namespace
}  // namespace userservice::testing
