// What the service sends to an OTLP collector, decoded not by our own test receiver but by the
// OpenTelemetry project's generated protobuf code (npm @opentelemetry/otlp-transformer, pinned
// in tests/node/package-lock.json, installed by scripts/npm-tools.sh): if our encoder
// and the reference disagree on a field number or a wire type, this test sees it.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <set>

#include "integration/service_fixture.h"
#include "support/otlp_receiver.h"
#include "support/process_util.h"

using namespace userservice::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string kTools = std::string(USERSERVICE_SOURCE_DIR) + "/.cache/npm-tools";

// Decodes one OTLP/HTTP protobuf body with the reference code; "" and a failure when it cannot.
json::value reference_decode(const std::string& kind, const std::string& body) {
  const std::string dir = detail::make_temp_dir("otlp-ref-");
  std::ofstream(dir + "/body.bin", std::ios::binary) << body;
  ServiceProcess node(detail::find_executable("node"), {{"NODE_PATH", kTools + "/node_modules"}});
  node.set_args({std::string(USERSERVICE_SOURCE_DIR) + "/tests/node/otlp_decode.js", kind,
                 dir + "/body.bin"});
  node.start();
  const auto code = node.wait_exit(30s);
  const std::string out = node.stdout_text();
  const std::string err = node.stderr_text();
  detail::remove_tree(dir);
  EXPECT_EQ(code, 0) << err;
  if (code != 0) return {};
  return json::parse(out);
}

std::string attribute(const json::value& attributes, const std::string& key) {
  for (const auto& a : attributes.as_array()) {
    if (a.at("key").as_string() == key) {
      const auto& v = a.at("value").as_object();
      if (auto s = v.if_contains("stringValue"); s && !s->as_string().empty())
        return std::string(s->as_string());
      if (auto i = v.if_contains("intValue"); i && i->is_string())
        return std::string(i->as_string());
    }
  }
  return "";
}

}  // namespace

TEST(OtlpReferenceDecode, TracesAndMetricsDecodeWithTheOpenTelemetryProtobufCode) {
  std::ifstream probe(kTools + "/node_modules/@opentelemetry/otlp-transformer/package.json");
  ASSERT_TRUE(probe.good()) << "run scripts/npm-tools.sh (scripts/test.sh does) to install the "
                               "reference decoder";
  OtlpReceiver receiver;
  auto service = start_service({{"OTEL_TRACES_EXPORTER", "otlp"},
                                {"OTEL_METRICS_EXPORTER", "otlp"},
                                {"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_endpoint()},
                                {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                                {"OTEL_BSP_SCHEDULE_DELAY", "50"},
                                {"OTEL_METRIC_EXPORT_INTERVAL", "300"}});
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const auto r = service.call("GET", "/api/v1/internal/users/user-nobody/exists", "",
                              {{"traceparent", "00-" + trace_id + "-00f067aa0ba902b7-01"}});
  ASSERT_EQ(r.status, 200u);
  ASSERT_TRUE(receiver.wait_for_spans(
      [&](const auto& spans) {
        for (const auto& s : spans)
          if (s.trace_id == trace_id && s.kind == 2) return true;
        return false;
      },
      10s));
  ASSERT_TRUE(receiver.wait_for_metrics(
      [](const auto& metrics) {
        for (const auto& m : metrics)
          if (m.name == "db.sql.connection.wait_duration") return true;
        return false;
      },
      10s));

  bool server_span = false, wait_duration = false, open_gauge = false;
  std::set<std::string> service_versions;
  for (const auto& req : receiver.requests()) {
    if (req.status != 200 || req.content_type != "application/x-protobuf") continue;
    const bool traces = req.path == "/v1/traces";
    const json::value decoded = reference_decode(traces ? "traces" : "metrics", req.body);
    if (decoded.is_null()) continue;
    const auto& resources = decoded.at(traces ? "resourceSpans" : "resourceMetrics").as_array();
    for (const auto& rs : resources) {
      const auto& resource_attrs = rs.at("resource").at("attributes");
      EXPECT_EQ(attribute(resource_attrs, "service.name"), "userservice");
      service_versions.insert(attribute(resource_attrs, "service.version"));
      if (traces) {
        for (const auto& ss : rs.at("scopeSpans").as_array()) {
          for (const auto& span : ss.at("spans").as_array()) {
            if (span.at("traceId").as_string() != trace_id ||
                span.at("kind").as_string() != "SPAN_KIND_SERVER")
              continue;
            server_span = true;
            EXPECT_EQ(span.at("parentSpanId").as_string(), "00f067aa0ba902b7");
            EXPECT_EQ(span.at("spanId").as_string().size(), 16u);
            EXPECT_EQ(span.at("name").as_string(), "GET /api/v1/internal/users/{user_id}/exists");
            EXPECT_EQ(attribute(span.at("attributes"), "http.route"),
                      "/api/v1/internal/users/{user_id}/exists");
            EXPECT_EQ(attribute(span.at("attributes"), "http.response.status_code"), "200");
            EXPECT_GT(std::stoull(std::string(span.at("endTimeUnixNano").as_string())),
                      std::stoull(std::string(span.at("startTimeUnixNano").as_string())) - 1);
          }
        }
      } else {
        for (const auto& sm : rs.at("scopeMetrics").as_array()) {
          for (const auto& m : sm.at("metrics").as_array()) {
            const std::string name(m.at("name").as_string());
            if (name == "db.sql.connection.wait_duration") {
              wait_duration = true;
              EXPECT_EQ(m.at("unit").as_string(), "ms");
              ASSERT_TRUE(m.as_object().contains("sum")) << json::serialize(m);
              EXPECT_TRUE(m.at("sum").at("isMonotonic").as_bool());
              EXPECT_EQ(m.at("sum").at("aggregationTemporality").as_string(),
                        "AGGREGATION_TEMPORALITY_CUMULATIVE");
            }
            if (name == "db.sql.connection.open") {
              open_gauge = true;
              ASSERT_TRUE(m.as_object().contains("gauge")) << json::serialize(m);
              std::set<std::string> statuses;
              for (const auto& p : m.at("gauge").at("dataPoints").as_array()) {
                statuses.insert(attribute(p.at("attributes"), "status"));
              }
              EXPECT_EQ(statuses, (std::set<std::string>{"idle", "inuse"}));
            }
          }
        }
      }
    }
  }
  EXPECT_TRUE(server_span);
  EXPECT_TRUE(wait_duration);
  EXPECT_TRUE(open_gauge);
  EXPECT_EQ(service_versions.size(), 1u);
  EXPECT_FALSE(service_versions.begin()->empty());
}
