#pragma once
// Per-request facts that travel from the HTTP edge down to the adapters.
#include <chrono>
#include <string>

namespace userservice {

using Clock = std::chrono::steady_clock;

// An explicit database transaction the request's statements join (Idempotency-Key requests);
// defined by the PostgreSQL adapter (adapters/postgres/pool.h), opaque everywhere else.
class DbTransaction;

struct RequestContext {
  std::string request_id;
  std::string trace_id;        // 32 lowercase hex, W3C; empty when none
  std::string span_id;         // 16 lowercase hex of the server span
  std::string parent_span_id;  // the caller's span from traceparent; empty when none
  unsigned trace_flags = 1;    // from traceparent (sampled by default)
  std::string trace_state;     // W3C tracestate, kept as received
  Clock::time_point deadline;  // USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT after arrival
  // Null: every store call is its own transaction. Not owned.
  DbTransaction* transaction = nullptr;
};

// "00-<trace_id>-<span_id>-<flags>" naming the request's server span; "" without a trace.
inline std::string traceparent_of(const RequestContext& ctx) {
  if (ctx.trace_id.size() != 32 || ctx.span_id.size() != 16) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(55);
  out += "00-";
  out += ctx.trace_id;
  out += '-';
  out += ctx.span_id;
  out += '-';
  out += kHex[(ctx.trace_flags >> 4) & 0xf];
  out += kHex[ctx.trace_flags & 0xf];
  return out;
}

}  // namespace userservice
