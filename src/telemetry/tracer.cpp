#include "telemetry/tracer.h"

#include "common/random.h"

namespace userservice::telemetry {

std::uint64_t unix_nanos_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string new_span_id() { return common::random_hex_id(16); }
std::string new_trace_id() { return common::random_hex_id(32); }

Tracer::Tracer() = default;
Tracer::~Tracer() = default;

void Tracer::add_processor(std::unique_ptr<SpanProcessor> processor) {
  if (processor) processors_.push_back(std::move(processor));
}

SpanData Tracer::child_of(const RequestContext& ctx, std::string_view name, SpanKind kind) const {
  SpanData span;
  span.trace_id = ctx.trace_id;
  span.span_id = new_span_id();
  span.parent_span_id = ctx.span_id;
  span.trace_state = ctx.trace_state;
  span.flags = ctx.trace_flags;
  span.name = std::string(name);
  span.kind = kind;
  span.start_unix_nano = unix_nanos_now();
  return span;
}

void Tracer::end(SpanData&& span) const {
  if (span.end_unix_nano == 0) span.end_unix_nano = unix_nanos_now();
  for (const auto& p : processors_) p->on_end(span);
}

void Tracer::shutdown(std::chrono::steady_clock::time_point deadline) {
  for (const auto& p : processors_) p->shutdown(deadline);
}

}  // namespace userservice::telemetry
