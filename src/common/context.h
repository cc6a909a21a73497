#pragma once
// Per-request facts that travel from the HTTP edge down to the adapters.
#include <chrono>
#include <string>

namespace userservice {

using Clock = std::chrono::steady_clock;

struct RequestContext {
  std::string request_id;
  std::string trace_id;        // 32 lowercase hex, W3C; empty when none
  std::string span_id;         // 16 lowercase hex of the server span
  std::string parent_span_id;  // the caller's span from traceparent; empty when none
  unsigned trace_flags = 1;    // from traceparent (sampled by default)
  std::string trace_state;     // W3C tracestate, kept as received
  Clock::time_point deadline;  // USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT after arrival
};

}  // namespace userservice
