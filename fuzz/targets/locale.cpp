// Language tags, IANA time zones and ISO 3166 countries (compiled-in reference data).
// Oracles: each boolean validator agrees with its throwing twin; an accepted time zone or
// country is in the compiled-in list; an accepted language is "ll" or "ll-RR" with a known
// language and a known country.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "domain/locale.h"
#include "support/check.h"

using namespace userservice;

namespace {

template <typename Valid, typename Require>
bool agree(std::string_view text, Valid valid, Require require) {
  const bool ok = valid(text);
  try {
    require(text);
    FUZZ_CHECK(ok);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    FUZZ_CHECK(!ok);
  }
  return ok;
}

bool listed(std::span<const std::string_view> list, std::string_view s) {
  return std::binary_search(list.begin(), list.end(), s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (agree(text, domain::is_valid_time_zone, domain::require_valid_time_zone)) {
    FUZZ_CHECK(listed(domain::known_time_zones(), text));
  }
  if (agree(text, domain::is_valid_country, domain::require_valid_country)) {
    FUZZ_CHECK(listed(domain::known_countries(), text));
  }
  if (agree(text, domain::is_valid_language, domain::require_valid_language)) {
    FUZZ_CHECK(text.size() == 2 || (text.size() == 5 && text[2] == '-'));
    FUZZ_CHECK(listed(domain::known_languages(), text.substr(0, 2)));
    if (text.size() == 5) FUZZ_CHECK(listed(domain::known_countries(), text.substr(3)));
  }
  return 0;
}
