#pragma once
// OTLP encoders: spans and Prometheus metric snapshots into ExportTraceServiceRequest /
// ExportMetricsServiceRequest bodies, as binary protobuf (application/x-protobuf) or OTLP/JSON
// (application/json), plus the stdout JSON-lines shapes. Pure functions, no I/O.
// Implemented per signal (otlp_traces.cpp, otlp_metrics.cpp; the resource and the export
// responses in otlp.cpp) over the encodings' shared building blocks (otlp_json.h,
// otlp_protobuf.h).
//
// OTLP/JSON differs from the standard protobuf JSON mapping: trace/span ids are hex strings,
// enums are integers; like it, field names are lowerCamelCase and 64-bit integers (times,
// counts, intValue) are decimal strings.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "telemetry/tracer.h"

namespace userservice::telemetry {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// The entity producing the telemetry; the same for every export of the process.
struct Resource {
  std::vector<Attribute> attributes;
};

// service.name, service.instance.id (random UUID per process unless `extra` sets one),
// telemetry.sdk.{language=cpp,name=userservice}, then `extra` (OTEL_RESOURCE_ATTRIBUTES) on top;
// service.name is always `service_name` (OTEL_SERVICE_NAME wins, as the OTel spec says).
Resource make_resource(std::string_view service_name, const StringPairs& extra = {});
// The value of a string attribute of `resource`, or "" when absent.
std::string resource_string(const Resource& resource, std::string_view key);

// Instrumentation scope of every span and metric.
inline constexpr std::string_view kScopeName = "userservice";

// ---- traces ----

std::string encode_traces_protobuf(const Resource& resource, std::span<const SpanData> spans);
std::string encode_traces_json(const Resource& resource, std::span<const SpanData> spans);

// ---- metrics ----

// OTel name and unit of a Prometheus family name.
//   1. An explicit override table (process_* metrics to their semantic-convention names).
//   2. Otherwise: strip a trailing "_total"; then a unit suffix "_seconds" -> "s",
//      "_milliseconds" -> "ms", "_bytes" -> "By", "_ratio" -> "1"; then '_' -> '.', except inside
//      the compound words that OTel names keep whole (active_requests, max_open, wait_duration,
//      closed_max_idle, closed_max_idle_time, closed_max_lifetime).
//   http_server_request_duration_seconds -> http.server.request.duration [s]
//   db_sql_connection_max_open           -> db.sql.connection.max_open
//   db_sql_connection_wait_duration_milliseconds_total -> db.sql.connection.wait_duration [ms]
struct OtelMetricName {
  std::string name;
  std::string unit;
};
OtelMetricName otel_metric_name(std::string_view prometheus_name);

enum class MetricKind { gauge, sum, histogram };

// One time series of a metric. Sum and gauge use `value`; histogram the rest.
struct MetricPoint {
  StringPairs attributes;  // Prometheus labels
  double value = 0;
  std::uint64_t count = 0;
  double sum = 0;
  std::vector<double> bounds;                // explicit bounds, ascending, without +Inf
  std::vector<std::uint64_t> bucket_counts;  // per bucket (NOT cumulative): bounds.size() + 1
};

struct OtelMetric {
  std::string name;
  std::string description;
  std::string unit;
  std::string prometheus_name;
  MetricKind kind = MetricKind::gauge;
  bool monotonic = false;  // sums only
  std::vector<MetricPoint> points;
};

// Counter -> monotonic cumulative Sum (double); Gauge and Untyped -> Gauge; Histogram ->
// cumulative Histogram with Prometheus' cumulative bucket counts turned into per-bucket counts.
// Summaries (none registered today) and families without series are skipped.
std::vector<OtelMetric> to_otel_metrics(std::span<const prometheus::MetricFamily> families);

// `start_unix_nano` is the start of the cumulative interval (process start), `time_unix_nano`
// the collection time.
std::string encode_metrics_protobuf(const Resource& resource, std::span<const OtelMetric> metrics,
                                    std::uint64_t start_unix_nano, std::uint64_t time_unix_nano);
std::string encode_metrics_json(const Resource& resource, std::span<const OtelMetric> metrics,
                                std::uint64_t start_unix_nano, std::uint64_t time_unix_nano);

// ---- export responses ----

// The partial_success of an Export*ServiceResponse (rejected_spans / rejected_data_points is
// field 1, error_message field 2 in both). nullopt when the body does not carry one.
struct PartialSuccess {
  std::int64_t rejected = 0;
  std::string error_message;
};
std::optional<PartialSuccess> parse_partial_success(std::string_view body, bool json);

// ---- stdout JSON lines ----
//
// Span line (one per span, newline-terminated):
//   {"type":"span","service":"userservice","trace_id":"<32 hex>","span_id":"<16 hex>",
//    "parent_span_id":"<16 hex or empty>","name":"GET /x","kind":"server",
//    "start_time_unix_nano":"<decimal>","end_time_unix_nano":"<decimal>","duration_ms":1.25,
//    "status":"unset|ok|error","status_message":"...",          (status_message only if set)
//    "attributes":{"http.response.status_code":200,...}}        (native JSON values)
// Metric line (one per time series):
//   {"type":"metric","service":"userservice","name":"http.server.request.duration",
//    "prometheus_name":"http_server_request_duration_seconds","unit":"s",
//    "kind":"sum|gauge|histogram","monotonic":true,              (monotonic for sums only)
//    "time_unix_nano":"<decimal>","attributes":{"route":"..."},
//    "value":1.5                                                  (sum, gauge)
//    "count":"3","sum":0.12,"bounds":[...],"bucket_counts":["1","2","0"]}   (histogram)
// Non-finite doubles are written as the strings "NaN", "Infinity", "-Infinity".
void append_span_json_line(std::string& out, const SpanData& span, std::string_view service);
void append_metric_json_lines(std::string& out, const OtelMetric& metric,
                              std::uint64_t time_unix_nano, std::string_view service);

}  // namespace userservice::telemetry
