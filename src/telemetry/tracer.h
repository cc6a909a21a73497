#pragma once
// Spans: the narrow interface between the code that times work (HTTP server, PostgreSQL pool,
// outbox relay) and the exporters (OTLP over HTTP, stdout). Instrumented code fills a SpanData
// and hands it to Tracer::end(); processors copy it into their own bounded queues and export
// from their own threads, so a slow or dead collector never reaches a request.
//
//   if (tracer.recording(ctx)) {
//     telemetry::SpanData span = tracer.child_of(ctx, "account_state_by_id", SpanKind::client);
//     ... work ...
//     tracer.end(std::move(span));
//   }
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/context.h"

namespace userservice::telemetry {

// Values follow OTLP's Span.SpanKind and Status.StatusCode numbering.
enum class SpanKind : int { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };
enum class SpanStatus : int { unset = 0, ok = 1, error = 2 };

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

struct SpanData {
  std::string trace_id;        // 32 lowercase hex
  std::string span_id;         // 16 lowercase hex
  std::string parent_span_id;  // 16 lowercase hex; empty for a root span
  std::string trace_state;     // W3C tracestate, as received
  std::uint32_t flags = 1;     // W3C trace flags (bit 0: sampled)
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  SpanStatus status = SpanStatus::unset;
  std::string status_message;
  std::vector<Attribute> attributes;
};

// Receives every ended span. on_end runs on whatever thread ended the span (the event loop,
// the relay thread) and must not block: copy or drop, never wait.
class SpanProcessor {
 public:
  virtual ~SpanProcessor() = default;
  virtual void on_end(const SpanData& span) = 0;
  // Exports what is queued, then stops; returns by `deadline` whatever the collector does.
  virtual void shutdown(std::chrono::steady_clock::time_point deadline) = 0;
};

std::uint64_t unix_nanos_now();

class Tracer {
 public:
  Tracer();
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Before the event loop starts; not thread-safe against end().
  void add_processor(std::unique_ptr<SpanProcessor> processor);
  // False when no processor is installed: instrumented code then skips building spans.
  bool enabled() const noexcept { return !processors_.empty(); }
  // Whether work under `ctx` is recorded: a processor exists, the request has a trace, and the
  // caller's traceparent did not clear the sampled flag.
  bool recording(const RequestContext& ctx) const noexcept {
    return enabled() && !ctx.trace_id.empty() && (ctx.trace_flags & 1u) != 0;
  }

  // A started span (start time = now, new span id) whose parent is the request's server span.
  SpanData child_of(const RequestContext& ctx, std::string_view name, SpanKind kind) const;
  // Stamps the end time (when not set) and hands the span to every processor.
  void end(SpanData&& span) const;
  // Flushes and stops every processor, sharing `deadline`.
  void shutdown(std::chrono::steady_clock::time_point deadline);

 private:
  std::vector<std::unique_ptr<SpanProcessor>> processors_;
};

// 16 lowercase hex of 64 random bits (never all zeros). Thread-safe.
std::string new_span_id();
// 32 lowercase hex of 128 random bits (never all zeros). Thread-safe.
std::string new_trace_id();

}  // namespace userservice::telemetry
