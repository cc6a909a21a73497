#include "telemetry/exporters.h"

#include "telemetry/line_writer.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "telemetry/otlp_http.h"

namespace userservice::telemetry {

using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kJsonType = "application/json";

OtlpHttpOptions http_options(const OtlpExporterOptions& o) {
  std::string why;
  auto url = parse_http_url(o.endpoint, &why);
  if (!url) throw std::invalid_argument("OTLP endpoint " + why);
  OtlpHttpOptions h;
  h.url = std::move(*url);
  h.content_type = std::string(o.json ? kJsonType : kProtobufType);
  h.headers = o.headers;
  h.request_timeout = o.timeout;
  return h;
}

ExportResult from_post(const HttpPostResult& r, bool json) {
  ExportResult out;
  if (r.outcome != HttpPostResult::Outcome::ok) {
    out.error = r.error;
    return out;
  }
  out.ok = true;
  if (auto ps = parse_partial_success(r.body, json)) {
    out.rejected = ps->rejected;
    out.error = ps->error_message;
  }
  return out;
}

class OtlpSpanExporter final : public SpanExporter {
 public:
  OtlpSpanExporter(Resource resource, OtlpExporterOptions options)
      : resource_(std::move(resource)), json_(options.json), client_(http_options(options)) {}

  ExportResult export_spans(std::span<const SpanData> spans, Clock::time_point deadline) override {
    const std::string body =
        json_ ? encode_traces_json(resource_, spans) : encode_traces_protobuf(resource_, spans);
    return from_post(client_.post(body, deadline), json_);
  }
  void interrupt_at(Clock::time_point deadline) override { client_.interrupt_at(deadline); }
  std::string_view name() const override { return "otlp"; }

 private:
  Resource resource_;
  bool json_;
  OtlpHttpClient client_;
};

class OtlpMetricExporter final : public MetricExporter {
 public:
  OtlpMetricExporter(Resource resource, OtlpExporterOptions options)
      : resource_(std::move(resource)), json_(options.json), client_(http_options(options)) {}

  ExportResult export_metrics(std::span<const OtelMetric> metrics, std::uint64_t start,
                              std::uint64_t time, Clock::time_point deadline) override {
    const std::string body = json_ ? encode_metrics_json(resource_, metrics, start, time)
                                   : encode_metrics_protobuf(resource_, metrics, start, time);
    return from_post(client_.post(body, deadline), json_);
  }
  void interrupt_at(Clock::time_point deadline) override { client_.interrupt_at(deadline); }
  std::string_view name() const override { return "otlp"; }

 private:
  Resource resource_;
  bool json_;
  OtlpHttpClient client_;
};

ExportResult write_all(LineWriter& out, const std::string& text) {
  ExportResult r;
  // Queued in one piece: log lines cannot land inside ours.
  if (!out.write(text)) {
    r.error = "stdout queue full (the reader does not keep up)";
    return r;
  }
  r.ok = true;
  return r;
}

class StdoutSpanExporter final : public SpanExporter {
 public:
  StdoutSpanExporter(std::string service, LineWriter& out)
      : service_(std::move(service)), out_(out) {}
  ExportResult export_spans(std::span<const SpanData> spans, Clock::time_point) override {
    std::string text;
    text.reserve(spans.size() * 400);
    for (const auto& s : spans) append_span_json_line(text, s, service_);
    return write_all(out_, text);
  }
  std::string_view name() const override { return "stdout"; }

 private:
  std::string service_;
  LineWriter& out_;
};

class StdoutMetricExporter final : public MetricExporter {
 public:
  StdoutMetricExporter(std::string service, LineWriter& out)
      : service_(std::move(service)), out_(out) {}
  ExportResult export_metrics(std::span<const OtelMetric> metrics, std::uint64_t,
                              std::uint64_t time, Clock::time_point) override {
    std::string text;
    for (const auto& m : metrics) append_metric_json_lines(text, m, time, service_);
    return write_all(out_, text);
  }
  std::string_view name() const override { return "stdout"; }

 private:
  std::string service_;
  LineWriter& out_;
};

prometheus::Family<prometheus::Counter>& spans_exported_family(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("otel_exporter_spans_exported_total")
      .Help("Spans the exporter delivered (accepted by the collector or written), by exporter.")
      .Register(r);
}
prometheus::Family<prometheus::Counter>& spans_dropped_family(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("otel_exporter_spans_dropped_total")
      .Help(
          "Spans dropped, by exporter and reason (queue_full, export_failed, rejected, "
          "shutdown).")
      .Register(r);
}
prometheus::Family<prometheus::Gauge>& queue_size_family(prometheus::Registry& r) {
  return prometheus::BuildGauge()
      .Name("otel_exporter_queue_size")
      .Help("Spans waiting in the batch span processor's queue, by exporter.")
      .Register(r);
}
prometheus::Family<prometheus::Counter>& metric_exports_family(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("otel_exporter_metric_exports_total")
      .Help("Metric exports, by exporter and outcome (ok, failed).")
      .Register(r);
}

// Logs the first failure of a run of failures and the recovery, not every attempt: a collector
// that is down for an hour must not flood the log.
class FailureLog {
 public:
  FailureLog(Logger& log, std::string what, std::string exporter)
      : log_(log), what_(std::move(what)), exporter_(std::move(exporter)) {}
  void failed(const std::string& error) {
    if (!failing_) {
      log_.warn(what_ + " export failing; data is dropped until it recovers",
                {{"exporter", exporter_}, {"error", error}});
      failing_ = true;
    } else {
      log_.debug(what_ + " export failed", {{"exporter", exporter_}, {"error", error}});
    }
  }
  void succeeded() {
    if (failing_) log_.info(what_ + " export recovered", {{"exporter", exporter_}});
    failing_ = false;
  }

 private:
  Logger& log_;
  std::string what_;
  std::string exporter_;
  bool failing_ = false;
};

}  // namespace

std::unique_ptr<SpanExporter> make_otlp_span_exporter(Resource resource,
                                                      OtlpExporterOptions options, Logger&) {
  return std::make_unique<OtlpSpanExporter>(std::move(resource), std::move(options));
}
std::unique_ptr<MetricExporter> make_otlp_metric_exporter(Resource resource,
                                                          OtlpExporterOptions options, Logger&) {
  return std::make_unique<OtlpMetricExporter>(std::move(resource), std::move(options));
}
std::unique_ptr<SpanExporter> make_stdout_span_exporter(std::string service, LineWriter& out) {
  return std::make_unique<StdoutSpanExporter>(std::move(service), out);
}
std::unique_ptr<MetricExporter> make_stdout_metric_exporter(std::string service, LineWriter& out) {
  return std::make_unique<StdoutMetricExporter>(std::move(service), out);
}

// ---- BatchSpanProcessor ----

struct BatchSpanProcessor::Impl {
  Impl(std::unique_ptr<SpanExporter> e, BatchOptions o, prometheus::Registry& registry, Logger& l)
      : exporter(std::move(e)),
        opt(o),
        log(l),
        failures(l, "span", std::string(exporter->name())),
        label(exporter->name()),
        exported(spans_exported_family(registry).Add({{"exporter", label}})),
        dropped_queue_full(
            spans_dropped_family(registry).Add({{"exporter", label}, {"reason", "queue_full"}})),
        dropped_export_failed(
            spans_dropped_family(registry).Add({{"exporter", label}, {"reason", "export_failed"}})),
        dropped_rejected(
            spans_dropped_family(registry).Add({{"exporter", label}, {"reason", "rejected"}})),
        dropped_shutdown(
            spans_dropped_family(registry).Add({{"exporter", label}, {"reason", "shutdown"}})),
        queue_size(queue_size_family(registry).Add({{"exporter", label}})) {
    if (opt.max_queue_size == 0) opt.max_queue_size = 1;
    if (opt.max_export_batch_size == 0 || opt.max_export_batch_size > opt.max_queue_size) {
      opt.max_export_batch_size = opt.max_queue_size;
    }
  }

  std::unique_ptr<SpanExporter> exporter;
  BatchOptions opt;
  Logger& log;
  FailureLog failures;  // worker thread only
  std::string label;
  prometheus::Counter& exported;
  prometheus::Counter& dropped_queue_full;
  prometheus::Counter& dropped_export_failed;
  prometheus::Counter& dropped_rejected;
  prometheus::Counter& dropped_shutdown;
  prometheus::Gauge& queue_size;

  std::mutex mu;
  std::condition_variable wake;     // worker waits here
  std::condition_variable flushed;  // force_flush waits here
  std::deque<SpanData> queue;
  bool stopping = false;
  Clock::time_point stop_deadline;
  std::uint64_t flush_requested = 0;
  std::uint64_t flush_done = 0;
  std::thread worker;
  std::once_flag shutdown_once;

  std::vector<SpanData> take_batch() {  // mu held
    const std::size_t n = std::min(queue.size(), opt.max_export_batch_size);
    std::vector<SpanData> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    queue_size.Set(static_cast<double>(queue.size()));
    return batch;
  }

  void export_batch(const std::vector<SpanData>& batch, Clock::time_point deadline) {
    ExportResult r;
    try {
      r = exporter->export_spans(batch, deadline);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    }
    if (!r.ok) {
      dropped_export_failed.Increment(static_cast<double>(batch.size()));
      failures.failed(r.error);
      return;
    }
    failures.succeeded();
    const auto rejected =
        static_cast<std::size_t>(std::clamp<std::int64_t>(r.rejected, 0, batch.size()));
    if (rejected > 0 || !r.error.empty()) {
      log.warn("collector rejected part of a span batch",
               {{"exporter", label}, {"rejected", rejected}, {"error", r.error}});
    }
    dropped_rejected.Increment(static_cast<double>(rejected));
    exported.Increment(static_cast<double>(batch.size() - rejected));
  }

  void run() {
    std::unique_lock lock(mu);
    auto next = Clock::now() + opt.schedule_delay;
    while (true) {
      wake.wait_until(lock, next, [&] {
        return stopping || queue.size() >= opt.max_export_batch_size ||
               flush_requested != flush_done;
      });
      if (stopping) break;
      const std::uint64_t flush_target = flush_requested;
      const bool due = Clock::now() >= next || flush_target != flush_done;
      // Full batches go at once; when the timer fired or a flush asked, also what was queued at
      // that moment (not what keeps arriving meanwhile).
      std::size_t owed = due ? queue.size() : 0;
      while (!stopping && !queue.empty() &&
             (queue.size() >= opt.max_export_batch_size || owed > 0)) {
        auto batch = take_batch();
        owed -= std::min(owed, batch.size());
        lock.unlock();
        export_batch(batch, Clock::now() + opt.export_timeout);
        lock.lock();
      }
      if (flush_target != flush_done && !stopping) {
        flush_done = flush_target;
        flushed.notify_all();
      }
      if (due) next = Clock::now() + opt.schedule_delay;
    }
    // Shutdown: export what fits before the deadline, drop the rest.
    while (!queue.empty() && Clock::now() < stop_deadline) {
      auto batch = take_batch();
      lock.unlock();
      export_batch(batch, stop_deadline);
      lock.lock();
    }
    dropped_shutdown.Increment(static_cast<double>(queue.size()));
    queue.clear();
    queue_size.Set(0);
    flush_done = flush_requested;
    flushed.notify_all();
  }
};

BatchSpanProcessor::BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchOptions options,
                                       prometheus::Registry& registry, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(exporter), options, registry, log)) {
  impl_->worker = std::thread([im = impl_.get()] { im->run(); });
}

BatchSpanProcessor::~BatchSpanProcessor() { shutdown(Clock::now()); }

void BatchSpanProcessor::on_end(const SpanData& span) {
  Impl& im = *impl_;
  SpanData copy = span;  // allocate outside the lock
  std::size_t size = 0;
  {
    std::lock_guard lock(im.mu);
    if (im.stopping) {
      im.dropped_shutdown.Increment();
      return;
    }
    if (im.queue.size() >= im.opt.max_queue_size) {
      im.dropped_queue_full.Increment();
      return;
    }
    im.queue.push_back(std::move(copy));
    size = im.queue.size();
  }
  im.queue_size.Set(static_cast<double>(size));
  // Wake the worker only when a batch is full; otherwise the schedule delay does it.
  if (size == im.opt.max_export_batch_size) im.wake.notify_one();
}

bool BatchSpanProcessor::force_flush(Clock::time_point deadline) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mu);
  if (im.stopping) return im.queue.empty();
  const std::uint64_t target = ++im.flush_requested;
  im.wake.notify_one();
  return im.flushed.wait_until(lock, deadline, [&] { return im.flush_done >= target; });
}

void BatchSpanProcessor::shutdown(Clock::time_point deadline) {
  Impl& im = *impl_;
  std::call_once(im.shutdown_once, [&] {
    {
      std::lock_guard lock(im.mu);
      im.stopping = true;
      im.stop_deadline = deadline;
    }
    // An export in flight was given a later deadline; pull it in.
    im.exporter->interrupt_at(deadline);
    im.wake.notify_all();
    if (im.worker.joinable()) im.worker.join();
  });
}

// ---- PeriodicMetricsExporter ----

struct PeriodicMetricsExporter::Impl {
  struct Target {
    std::unique_ptr<MetricExporter> exporter;
    prometheus::Counter& ok;
    prometheus::Counter& failed;
    FailureLog failures;
  };

  Impl(MetricsCollect c, std::vector<std::unique_ptr<MetricExporter>> exporters, PeriodicOptions o,
       prometheus::Registry& registry, Logger& l)
      : collect(std::move(c)), opt(o), log(l) {
    if (opt.start_unix_nano == 0) opt.start_unix_nano = unix_nanos_now();
    auto& family = metric_exports_family(registry);
    for (auto& e : exporters) {
      std::string label(e->name());
      auto& ok = family.Add({{"exporter", label}, {"outcome", "ok"}});
      auto& failed = family.Add({{"exporter", label}, {"outcome", "failed"}});
      targets.push_back(Target{std::move(e), ok, failed, FailureLog(l, "metric", label)});
    }
  }

  MetricsCollect collect;
  PeriodicOptions opt;
  Logger& log;
  std::vector<Target> targets;

  std::mutex mu;
  std::condition_variable wake;
  std::condition_variable flushed;
  bool stopping = false;
  Clock::time_point stop_deadline;
  std::uint64_t flush_requested = 0;
  std::uint64_t flush_done = 0;
  std::thread worker;
  std::once_flag shutdown_once;

  void export_once(Clock::time_point deadline) {
    std::vector<prometheus::MetricFamily> families;
    try {
      families = collect(deadline);
    } catch (const std::exception& e) {
      log.warn("metrics collection failed", {{"error", e.what()}});
      return;
    }
    const auto metrics = to_otel_metrics(families);
    if (metrics.empty()) return;  // OTLP: no empty envelopes
    const std::uint64_t now = unix_nanos_now();
    for (auto& t : targets) {
      ExportResult r;
      try {
        r = t.exporter->export_metrics(metrics, opt.start_unix_nano, now, deadline);
      } catch (const std::exception& e) {
        r.ok = false;
        r.error = e.what();
      }
      if (r.ok) {
        t.ok.Increment();
        t.failures.succeeded();
        if (r.rejected > 0 || !r.error.empty()) {
          log.warn("collector rejected part of a metrics export",
                   {{"rejected", r.rejected}, {"error", r.error}});
        }
      } else {
        t.failed.Increment();
        t.failures.failed(r.error);
      }
    }
  }

  void run() {
    std::unique_lock lock(mu);
    auto next = Clock::now() + opt.interval;
    while (true) {
      wake.wait_until(lock, next, [&] { return stopping || flush_requested != flush_done; });
      if (stopping) break;
      const std::uint64_t flush_target = flush_requested;
      if (Clock::now() < next && flush_target == flush_done) continue;
      lock.unlock();
      export_once(Clock::now() + opt.timeout);
      lock.lock();
      next = Clock::now() + opt.interval;
      if (flush_target != flush_done) {
        flush_done = flush_target;
        flushed.notify_all();
      }
    }
    const auto deadline = stop_deadline;
    lock.unlock();
    if (Clock::now() < deadline) export_once(deadline);  // the final export
    lock.lock();
    flush_done = flush_requested;
    flushed.notify_all();
  }
};

PeriodicMetricsExporter::PeriodicMetricsExporter(
    MetricsCollect collect, std::vector<std::unique_ptr<MetricExporter>> exporters,
    PeriodicOptions options, prometheus::Registry& registry, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(collect), std::move(exporters), options, registry,
                                   log)) {
  impl_->worker = std::thread([im = impl_.get()] { im->run(); });
}

PeriodicMetricsExporter::~PeriodicMetricsExporter() { shutdown(Clock::now()); }

bool PeriodicMetricsExporter::force_flush(Clock::time_point deadline) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mu);
  if (im.stopping) return false;
  const std::uint64_t target = ++im.flush_requested;
  im.wake.notify_one();
  return im.flushed.wait_until(lock, deadline, [&] { return im.flush_done >= target; });
}

void PeriodicMetricsExporter::shutdown(Clock::time_point deadline) {
  Impl& im = *impl_;
  std::call_once(im.shutdown_once, [&] {
    {
      std::lock_guard lock(im.mu);
      im.stopping = true;
      im.stop_deadline = deadline;
    }
    for (auto& t : im.targets) t.exporter->interrupt_at(deadline);
    im.wake.notify_all();
    if (im.worker.joinable()) im.worker.join();
  });
}

// ---- factory ----

namespace {

std::chrono::milliseconds ms(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

}  // namespace

TelemetryPipeline build_telemetry(const config::TelemetryConfig& cfg, Logger& log,
                                  prometheus::Registry& registry, MetricsCollect collect) {
  LineWriter& stdout_sink = log.writer();
  TelemetryPipeline out;
  const Resource resource = make_resource(cfg.service_name, cfg.resource_attributes);
  const std::string service = cfg.service_name;

  const BatchOptions batch{cfg.bsp_max_queue_size, cfg.bsp_max_export_batch_size,
                           ms(cfg.bsp_schedule_delay), ms(cfg.bsp_export_timeout)};
  // Stdout first: Tracer::shutdown hands every processor the same deadline in turn, and the
  // quick local write should not wait behind a slow collector.
  if (cfg.traces_exporter == config::Exporter::console || cfg.stdout_traces) {
    out.span_processors.push_back(std::make_unique<BatchSpanProcessor>(
        make_stdout_span_exporter(service, stdout_sink), batch, registry, log));
  }
  if (cfg.traces_exporter == config::Exporter::otlp) {
    OtlpExporterOptions o{cfg.traces_endpoint,
                          cfg.traces_protocol == config::OtlpProtocol::http_json,
                          cfg.traces_headers, ms(cfg.traces_timeout)};
    out.span_processors.push_back(std::make_unique<BatchSpanProcessor>(
        make_otlp_span_exporter(resource, std::move(o), log), batch, registry, log));
  }

  std::vector<std::unique_ptr<MetricExporter>> metric_exporters;
  if (cfg.metrics_exporter == config::Exporter::console || cfg.stdout_metrics) {
    metric_exporters.push_back(make_stdout_metric_exporter(service, stdout_sink));
  }
  if (cfg.metrics_exporter == config::Exporter::otlp) {
    OtlpExporterOptions o{cfg.metrics_endpoint,
                          cfg.metrics_protocol == config::OtlpProtocol::http_json,
                          cfg.metrics_headers, ms(cfg.metrics_timeout)};
    metric_exporters.push_back(make_otlp_metric_exporter(resource, std::move(o), log));
  }
  if (!metric_exporters.empty()) {
    PeriodicOptions periodic{ms(cfg.metric_export_interval), ms(cfg.metric_export_timeout), 0};
    out.metrics = std::make_unique<PeriodicMetricsExporter>(
        std::move(collect), std::move(metric_exporters), periodic, registry, log);
  }
  return out;
}

}  // namespace userservice::telemetry
