#pragma once
// Pure helpers for request correlation: X-Request-Id sanitizing and W3C traceparent parsing.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/context.h"

namespace userservice::http {

// 1-128 chars of [A-Za-z0-9._:-]: safe to echo into headers and logs.
bool is_valid_request_id(std::string_view id);

struct TraceParent {
  std::string trace_id;   // 32 lower-case hex, not all zeros
  std::string parent_id;  // 16 lower-case hex, not all zeros
  std::uint8_t flags = 0;
};

// W3C Trace Context "00-<32 hex>-<16 hex>-<2 hex>", lower-case. A higher version (not "ff") is
// accepted when its first 55 characters have that shape and any rest starts with '-'.
std::optional<TraceParent> parse_traceparent(std::string_view header);

// The W3C tracestate to keep: as received when it is at most 512 characters of printable
// ASCII (the spec's limit: a longer one may be discarded whole), else "" (dropped).
std::string_view sane_tracestate(std::string_view header);

// Fills request_id / trace_id / span_id from the incoming header values ("" when absent):
// a sane X-Request-Id is echoed, otherwise a 32-hex one is minted; a valid traceparent's trace
// id is continued, otherwise a fresh one is minted; the span id is always fresh.
// Returns the parsed traceparent (the caller's span is our parent) when there was one.
std::optional<TraceParent> init_correlation(RequestContext& ctx, std::string_view request_id,
                                            std::string_view traceparent);

}  // namespace userservice::http
