#include "adapters/http/trace_context.h"

#include "domain/random.h"

namespace userservice::http {

namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<TraceParent> parse_traceparent(std::string_view h) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 characters.
  constexpr std::size_t kLen = 55;
  if (h.size() < kLen) return std::nullopt;
  std::string_view version = h.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? h.size() != kLen : (h.size() > kLen && h[kLen] != '-')) {
    return std::nullopt;
  }
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  std::string_view trace_id = h.substr(3, 32);
  std::string_view parent_id = h.substr(36, 16);
  std::string_view flags = h.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags)) {
    return std::nullopt;
  }
  if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  TraceParent tp;
  tp.trace_id = std::string(trace_id);
  tp.parent_id = std::string(parent_id);
  tp.flags = static_cast<std::uint8_t>(nibble(flags[0]) * 16 + nibble(flags[1]));
  return tp;
}

std::string_view sane_tracestate(std::string_view header) {
  if (header.size() > 512) return {};
  for (char c : header) {
    if (c < 0x20 || c > 0x7e) return {};
  }
  return header;
}

std::optional<TraceParent> init_correlation(RequestContext& ctx, std::string_view request_id,
                                            std::string_view traceparent) {
  // Assigned into the strings `ctx` already holds (see assign_random_hex_id).
  if (is_valid_request_id(request_id)) {
    ctx.request_id.assign(request_id);
  } else {
    domain::assign_random_hex_id(ctx.request_id, 32);
  }
  auto tp = parse_traceparent(traceparent);
  if (tp) {
    ctx.trace_id.assign(tp->trace_id);
  } else {
    domain::assign_random_hex_id(ctx.trace_id, 32);
  }
  domain::assign_random_hex_id(ctx.span_id, 16);
  return tp;
}

}  // namespace userservice::http
