// W3C traceparent / tracestate and X-Request-Id. Input: three header values separated by '\n'.
// Oracles: an accepted traceparent has the documented shape and its version-00 form is the
// header itself; the kept tracestate is the header or nothing, ≤ 512 printable ASCII; the
// request id in the context is always safe to echo; trace and span ids are never all zeros.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/http/trace_context.h"
#include "support/check.h"

using namespace userservice;

namespace {

bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (auto& p : parts) {
    const std::size_t nl = input.find('\n');
    p = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  }
  const std::string_view traceparent = parts[0], tracestate = parts[1], request_id = parts[2];

  if (auto tp = http::parse_traceparent(traceparent)) {
    FUZZ_CHECK(tp->trace_id.size() == 32 && lower_hex(tp->trace_id) && !all_zero(tp->trace_id));
    FUZZ_CHECK(tp->parent_id.size() == 16 && lower_hex(tp->parent_id) && !all_zero(tp->parent_id));
    FUZZ_CHECK(traceparent.size() >= 55);
    FUZZ_CHECK(traceparent.substr(3, 32) == tp->trace_id);
    FUZZ_CHECK(traceparent.substr(36, 16) == tp->parent_id);
    if (traceparent.starts_with("00-")) FUZZ_CHECK(traceparent.size() == 55);
  }

  const std::string_view kept = http::sane_tracestate(tracestate);
  FUZZ_CHECK(kept.empty() || kept == tracestate);
  FUZZ_CHECK(kept.size() <= 512);
  for (char c : kept) FUZZ_CHECK(c >= 0x20 && c < 0x7f);

  RequestContext ctx;
  const auto parent = http::init_correlation(ctx, request_id, traceparent);
  FUZZ_CHECK(http::is_valid_request_id(ctx.request_id));
  if (http::is_valid_request_id(request_id)) FUZZ_CHECK(ctx.request_id == request_id);
  FUZZ_CHECK(ctx.trace_id.size() == 32 && lower_hex(ctx.trace_id) && !all_zero(ctx.trace_id));
  FUZZ_CHECK(ctx.span_id.size() == 16 && lower_hex(ctx.span_id) && !all_zero(ctx.span_id));
  if (parent) FUZZ_CHECK(ctx.trace_id == parent->trace_id);
  return 0;
}
