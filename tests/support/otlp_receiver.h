#pragma once
// A small OTLP/HTTP collector for tests: an HTTP/1.1 server on 127.0.0.1:<ephemeral>, on its own
// thread, that accepts POST /v1/traces and /v1/metrics as application/x-protobuf or
// application/json and decodes them into plain structs. Its protobuf decoder (protobuf_reader.h)
// and JSON decoder are written from opentelemetry-proto and its docs/specification.md,
// independently of the service's encoder.
//
// Error policy: a malformed request (bad wire format, wrong JSON type, an id of the wrong size,
// invalid UTF-8, an enum sent as a name) is answered 400 with a google.rpc.Status body and
// records nothing but an entry in errors(). Protocol-valid but suspicious data (duplicate
// attribute keys, an attribute or data point without a value, bucket counts that do not match
// the bounds or the count, end before start) is recorded AND listed in errors(). Tests assert
// errors() is empty.
//
//   OtlpReceiver collector;
//   env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.traces_endpoint();
//   ...
//   ASSERT_TRUE(collector.wait_for_spans(
//       [](const auto& spans) { return spans.size() >= 2; }, std::chrono::seconds(5)));
//   EXPECT_THAT(collector.errors(), ::testing::IsEmpty());
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace userservice::testing {

// An OTLP AnyValue. Arrays, key-value lists and bytes are rendered as JSON text
// (`["a",1]`, `{"k":"v"}`, bytes as `"base64:<...>"`), the same for both encodings.
using OtlpValue = std::variant<std::string, std::int64_t, double, bool>;
using OtlpAttributes = std::map<std::string, OtlpValue>;
std::string to_string(const OtlpValue& value);  // for messages: "x" quoted, 1, 1.5, true

struct ReceivedSpan {
  OtlpAttributes resource_attributes;
  std::string service_name;  // resource attribute service.name, "" if absent or not a string
  std::string scope_name;
  std::string scope_version;
  std::string trace_id;        // 32 lowercase hex
  std::string span_id;         // 16 lowercase hex
  std::string parent_span_id;  // 16 lowercase hex, "" for a root span
  std::string trace_state;
  std::uint32_t flags = 0;
  std::string name;
  int kind = 0;  // Span.SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  int status_code = 0;  // 0 unset, 1 ok, 2 error
  std::string status_message;
  OtlpAttributes attributes;
  std::size_t events = 0;
  std::size_t links = 0;
  std::string encoding;  // "protobuf" | "json"

  // The attribute's value, or nullopt when absent.
  std::optional<OtlpValue> attribute(const std::string& key) const;
};

struct ReceivedPoint {
  OtlpAttributes attributes;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint32_t flags = 0;
  // Gauge and sum points: exactly one of these is set (neither when the point had no value).
  std::optional<double> as_double;
  std::optional<std::int64_t> as_int;
  // Histogram points (count and sum also for summaries and exponential histograms).
  std::uint64_t count = 0;
  std::optional<double> sum;
  std::vector<std::uint64_t> bucket_counts;
  std::vector<double> explicit_bounds;
  std::optional<double> min;
  std::optional<double> max;

  // as_double, or as_int converted; 0 when neither is set.
  double value() const;
};

struct ReceivedMetric {
  OtlpAttributes resource_attributes;
  std::string service_name;
  std::string scope_name;
  std::string name;
  std::string description;
  std::string unit;
  std::string type;     // "gauge" | "sum" | "histogram" | "exponential_histogram" | "summary" | ""
  int temporality = 0;  // AggregationTemporality: 1 delta, 2 cumulative (sum, histogram)
  bool monotonic = false;  // sum only
  std::vector<ReceivedPoint> points;
  std::string encoding;  // "protobuf" | "json"
};

// One HTTP request as the receiver saw it (black-hole requests included).
struct ReceivedRequest {
  std::string method;
  std::string path;                            // target without the query
  std::string content_type;                    // media type, lower-cased, parameters dropped
  std::map<std::string, std::string> headers;  // lower-cased names
  std::size_t body_bytes = 0;
  std::string body;     // as received (for decoding with other tools)
  unsigned status = 0;  // what was answered; 0 when nothing was (black hole)
};

class OtlpReceiver {
 public:
  OtlpReceiver();   // binds 127.0.0.1:0 and starts serving; throws std::system_error
  ~OtlpReceiver();  // closes every connection and joins the thread
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  int port() const;
  std::string base_endpoint() const;     // "http://127.0.0.1:PORT" (OTEL_EXPORTER_OTLP_ENDPOINT)
  std::string traces_endpoint() const;   // base + "/v1/traces"
  std::string metrics_endpoint() const;  // base + "/v1/metrics"

  // Snapshots (copies) of everything received so far.
  std::vector<ReceivedSpan> spans() const;
  std::vector<ReceivedMetric> metrics() const;
  std::vector<std::string> errors() const;
  std::vector<ReceivedRequest> requests() const;
  // Requests seen for `path` ("" = any) with media type `content_type` ("" = any).
  std::size_t request_count(std::string_view path = "", std::string_view content_type = "") const;
  void clear();  // forgets spans, metrics, errors and requests

  // Wait until `pred` holds for what was received (checked at once and after every request), or
  // the timeout passes; returns the last result. `pred` runs under the receiver's lock: it must
  // not call back into the receiver.
  bool wait_for_spans(std::function<bool(const std::vector<ReceivedSpan>&)> pred,
                      std::chrono::milliseconds timeout);
  bool wait_for_metrics(std::function<bool(const std::vector<ReceivedMetric>&)> pred,
                        std::chrono::milliseconds timeout);
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout);

  // Hung collector: connections are accepted and requests read (and counted), but nothing is
  // ever answered and nothing is decoded. Applies to requests read after the call.
  void set_black_hole(bool on);
  // Answer every following valid request with this status (e.g. 503) instead of 200, without
  // recording its data; 0 restores normal answers.
  void set_forced_status(unsigned status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The decoders on their own, for unit tests. They throw OtlpDecodeError on malformed input and
// append protocol-valid-but-suspicious findings to `warnings`.
class OtlpDecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
std::vector<ReceivedSpan> decode_traces_protobuf(std::string_view body,
                                                 std::vector<std::string>& warnings);
std::vector<ReceivedSpan> decode_traces_json(std::string_view body,
                                             std::vector<std::string>& warnings);
std::vector<ReceivedMetric> decode_metrics_protobuf(std::string_view body,
                                                    std::vector<std::string>& warnings);
std::vector<ReceivedMetric> decode_metrics_json(std::string_view body,
                                                std::vector<std::string>& warnings);

}  // namespace userservice::testing
