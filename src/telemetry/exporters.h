#pragma once
// Export side of telemetry: batching span processor, periodic metrics exporter, the OTLP/HTTP and
// stdout exporters behind them, and build_telemetry(), which assembles them from the config.
//
//   auto pipeline = telemetry::build_telemetry(cfg.telemetry, log, metrics.registry(), collect);
//   for (auto& p : pipeline.span_processors) tracer.add_processor(std::move(p));
//   ...
//   tracer.shutdown(deadline);                          // flushes spans, bounded by deadline
//   if (pipeline.metrics) pipeline.metrics->shutdown(deadline);  // one last export, bounded
//
// Every exporter runs on its own thread. The request path only copies a span into a bounded
// queue under a mutex (or drops it when the queue is full), so an unreachable or hanging
// collector never slows or fails a request. Self-observability on the registry:
//   otel_exporter_spans_exported_total{exporter}
//   otel_exporter_spans_dropped_total{exporter,reason="queue_full|export_failed|rejected|shutdown"}
//   otel_exporter_queue_size{exporter}
//   otel_exporter_metric_exports_total{exporter,outcome="ok|failed"}
// where exporter is "otlp" or "stdout".
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "config/config.h"
#include "telemetry/log.h"
#include "telemetry/otlp.h"
#include "telemetry/tracer.h"

namespace prometheus {
class Registry;
}

namespace userservice::telemetry {

class LineWriter;

struct ExportResult {
  bool ok = false;
  std::int64_t rejected = 0;  // items the collector refused in a partial success
  std::string error;          // why it failed, or the partial-success message
};

// Sends span batches somewhere. export_spans is called from one worker thread at a time.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual ExportResult export_spans(std::span<const SpanData> spans,
                                    std::chrono::steady_clock::time_point deadline) = 0;
  // Thread-safe: an export running now or later gives up by `deadline`.
  virtual void interrupt_at(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
  virtual std::string_view name() const = 0;  // the `exporter` label: "otlp" | "stdout"
};

class MetricExporter {
 public:
  virtual ~MetricExporter() = default;
  virtual ExportResult export_metrics(std::span<const OtelMetric> metrics,
                                      std::uint64_t start_unix_nano, std::uint64_t time_unix_nano,
                                      std::chrono::steady_clock::time_point deadline) = 0;
  virtual void interrupt_at(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
  virtual std::string_view name() const = 0;
};

struct OtlpExporterOptions {
  std::string endpoint;  // full URL, e.g. http://localhost:4318/v1/traces
  bool json = false;     // http/json instead of http/protobuf
  StringPairs headers;
  std::chrono::milliseconds timeout{10'000};  // per HTTP request
};

// Throw std::invalid_argument for an endpoint parse_http_url() rejects.
std::unique_ptr<SpanExporter> make_otlp_span_exporter(Resource resource,
                                                      OtlpExporterOptions options, Logger& log);
std::unique_ptr<MetricExporter> make_otlp_metric_exporter(Resource resource,
                                                          OtlpExporterOptions options, Logger& log);
// JSON lines (shapes in otlp.h) queued on `out` (the logger's writer: one queue, so lines
// never interleave with the log's and never block) in one piece per batch. A full queue fails
// the export (the spans count as dropped).
std::unique_ptr<SpanExporter> make_stdout_span_exporter(std::string service, LineWriter& out);
std::unique_ptr<MetricExporter> make_stdout_metric_exporter(std::string service, LineWriter& out);

struct BatchOptions {  // OTEL_BSP_* defaults
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  std::chrono::milliseconds schedule_delay{5'000};
  std::chrono::milliseconds export_timeout{30'000};
};

// Queues ended spans and exports them in batches from a worker thread: every schedule_delay, or
// as soon as max_export_batch_size spans wait. A full queue drops new spans (counted).
class BatchSpanProcessor final : public SpanProcessor {
 public:
  BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchOptions options,
                     prometheus::Registry& registry, Logger& log);
  ~BatchSpanProcessor() override;  // shutdown(now) when not done yet

  void on_end(const SpanData& span) override;
  // Exports what is queued until `deadline`, drops the rest (reason="shutdown"), stops the
  // worker. Returns by the deadline (plus a few ms) whatever the collector does. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline) override;
  // Exports everything queued now; true when done before `deadline`. For tests and diagnostics.
  bool force_flush(std::chrono::steady_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Returns the registry snapshot (registry.Collect(), after whatever refresh the caller needs);
// it must return by `deadline` — an empty vector when it cannot — because shutdown is bounded.
using MetricsCollect =
    std::function<std::vector<prometheus::MetricFamily>(std::chrono::steady_clock::time_point)>;

struct PeriodicOptions {  // OTEL_METRIC_EXPORT_* defaults
  std::chrono::milliseconds interval{60'000};
  std::chrono::milliseconds timeout{30'000};
  std::uint64_t start_unix_nano = 0;  // start of the cumulative interval; 0 = construction time
};

// Every `interval`, on its own thread: collect(), convert (to_otel_metrics), export to each
// exporter in turn, all within `timeout`.
class PeriodicMetricsExporter {
 public:
  PeriodicMetricsExporter(MetricsCollect collect,
                          std::vector<std::unique_ptr<MetricExporter>> exporters,
                          PeriodicOptions options, prometheus::Registry& registry, Logger& log);
  ~PeriodicMetricsExporter();  // shutdown(now) when not done yet
  PeriodicMetricsExporter(const PeriodicMetricsExporter&) = delete;
  PeriodicMetricsExporter& operator=(const PeriodicMetricsExporter&) = delete;

  // One final collect-and-export bounded by `deadline`, then stops. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline);
  // Collects and exports now; true when done before `deadline`.
  bool force_flush(std::chrono::steady_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TelemetryPipeline {
  // Hand each to Tracer::add_processor (empty when traces go nowhere).
  std::vector<std::unique_ptr<SpanProcessor>> span_processors;
  // Null when metrics go nowhere. Already running.
  std::unique_ptr<PeriodicMetricsExporter> metrics;
};

// OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: otlp -> OTLP/HTTP with the signal's protocol,
// console -> JSON lines through the logger's writer, none -> nothing;
// USERSERVICE_OTEL_STDOUT_*_ENABLED adds the JSON lines next to OTLP. The resource comes from
// service_name and resource_attributes. `collect` is only called when a metrics exporter
// exists.
TelemetryPipeline build_telemetry(const config::TelemetryConfig& config, Logger& log,
                                  prometheus::Registry& registry, MetricsCollect collect);

}  // namespace userservice::telemetry
