// RFC 3339 date-times (expires_at, listing filters). Oracles: require_rfc3339 agrees with
// parse_rfc3339 and names its field; an accepted instant has whole microseconds and formats
// to 24 characters that parse back to the same instant floored to the millisecond.
#include <cstddef>
#include <cstdint>
#include <string>

#include "domain/time.h"
#include "support/check.h"

using namespace userservice;
using namespace std::chrono;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto tp = domain::parse_rfc3339(text);
  try {
    const auto required = domain::require_rfc3339(text, "expires_at");
    FUZZ_CHECK(tp && *tp == required);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    FUZZ_CHECK(!tp);
    FUZZ_CHECK(e.message().find("expires_at") != std::string::npos);
  }
  if (!tp) return 0;
  FUZZ_CHECK(tp->time_since_epoch() % microseconds(1) == nanoseconds(0));
  const std::string formatted = domain::format_rfc3339_millis(*tp);
  FUZZ_CHECK(formatted.size() == domain::kRfc3339MillisLength);
  const auto back = domain::parse_rfc3339(formatted);
  FUZZ_CHECK(back && floor<milliseconds>(*back) == floor<milliseconds>(*tp) && *back <= *tp);
  return 0;
}
