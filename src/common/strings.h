#pragma once
// Small string helpers shared by the configuration, the HTTP layer and the domain.
#include <string_view>

namespace userservice {

// Space and horizontal tab: HTTP's optional white space, and what configuration values may be
// padded with.
inline constexpr std::string_view kBlanks = " \t";
// The six ASCII white-space characters of C's isspace() in the "C" locale.
inline constexpr std::string_view kAsciiSpace = " \t\n\v\f\r";

// `s` without the leading and trailing characters that are in `chars`.
constexpr std::string_view trim(std::string_view s, std::string_view chars = kBlanks) noexcept {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

}  // namespace userservice
