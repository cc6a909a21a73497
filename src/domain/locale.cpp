#include "domain/locale.h"

#include <algorithm>
#include <array>

#include "domain/error.h"

namespace userservice::domain {
namespace {

constexpr std::string_view kTimeZones[] = {
#include "domain/data/time_zones.inc"
};
constexpr std::string_view kCountries[] = {
#include "domain/data/countries.inc"
};
constexpr std::string_view kLanguages[] = {
#include "domain/data/languages.inc"
};

// Binary search relies on these; a hand-edited data file fails the build, not a lookup.
constexpr bool strictly_sorted(std::span<const std::string_view> list) {
  return std::adjacent_find(list.begin(), list.end(), [](std::string_view a, std::string_view b) {
           return !(a < b);
         }) == list.end();
}
static_assert(strictly_sorted(kTimeZones), "time_zones.inc must be sorted and unique");
static_assert(strictly_sorted(kCountries), "countries.inc must be sorted and unique");
static_assert(strictly_sorted(kLanguages), "languages.inc must be sorted and unique");

bool contains(std::span<const std::string_view> sorted, std::string_view value) noexcept {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

bool is_valid_language(std::string_view tag) noexcept {
  if (tag.size() == 2) return contains(kLanguages, tag);
  if (tag.size() == 5 && tag[2] == '-') {
    return contains(kLanguages, tag.substr(0, 2)) && contains(kCountries, tag.substr(3));
  }
  return false;
}

void require_valid_language(std::string_view tag) {
  if (!is_valid_language(tag)) {
    throw invalid_request(
        "preferred_language must be an ISO 639-1 language code, optionally followed by '-' and "
        "an ISO 3166-1 region code (e.g. \"en\", \"pt-BR\")");
  }
}

bool is_valid_time_zone(std::string_view name) noexcept { return contains(kTimeZones, name); }

void require_valid_time_zone(std::string_view name) {
  if (!is_valid_time_zone(name)) {
    throw invalid_request("time_zone must be an IANA time zone name (e.g. \"Europe/Berlin\")");
  }
}

bool is_valid_country(std::string_view code) noexcept {
  return code.size() == 2 && contains(kCountries, code);
}

void require_valid_country(std::string_view code) {
  if (!is_valid_country(code)) {
    throw invalid_request(
        "declared_country must be an assigned ISO 3166-1 alpha-2 code in upper case (e.g. "
        "\"DE\")");
  }
}

std::span<const std::string_view> known_time_zones() noexcept { return kTimeZones; }
std::span<const std::string_view> known_countries() noexcept { return kCountries; }
std::span<const std::string_view> known_languages() noexcept { return kLanguages; }

}  // namespace userservice::domain
