// Go time.ParseDuration syntax (configuration values).
// Oracles: a rejection says why; an accepted value formats (Go's Duration.String) to text
// that parses back to the same value, and the formatted form is a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/duration.h"
#include "support/check.h"

using namespace userservice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto d = config::parse_go_duration(text, &why);
  if (!d) {
    FUZZ_CHECK(!why.empty());
    fuzz::check_output(why, false);
    return 0;
  }
  const std::string formatted = config::format_go_duration(*d);
  auto again = config::parse_go_duration(formatted);
  FUZZ_CHECK(again && *again == *d);
  FUZZ_CHECK(config::format_go_duration(*again) == formatted);
  return 0;
}
