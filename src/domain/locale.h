#pragma once
// Account settings drawn from reference data (api.md §2). The data is generated from
// Debian's tzdata and iso-codes into src/domain/data/*.inc and compiled in, so a host's
// installed packages never change what the service accepts
// (scripts/update-reference-data.sh regenerates it).
#include <span>
#include <string_view>

namespace userservice::domain {

// "ll" or "ll-RR": an ISO 639-1 language in lower case, optionally a hyphen and an
// assigned ISO 3166-1 alpha-2 region in upper case ("en", "pt-BR"). Case is strict
// rather than normalised so stored values compare byte-wise; "EN" and "pt-br" fail.
bool is_valid_language(std::string_view tag) noexcept;
void require_valid_language(std::string_view tag);

// An IANA tz name that tzdata resolves: canonical zones ("Europe/Berlin") and link
// names ("UTC", "Etc/UTC", "US/Pacific", "Europe/Kiev") alike, since every tz library
// accepts both and callers send whatever the browser or OS reported. Case-sensitive as
// in the tz database. "Factory" is excluded: it means "local time unknown".
bool is_valid_time_zone(std::string_view name) noexcept;
void require_valid_time_zone(std::string_view name);

// An officially assigned ISO 3166-1 alpha-2 code in upper case ("DE"). User-assigned
// codes such as "XK" and reserved ones such as "UK" are not in ISO's list and fail.
bool is_valid_country(std::string_view code) noexcept;
void require_valid_country(std::string_view code);

// The compiled-in lists, sorted byte-wise (for tests and diagnostics).
std::span<const std::string_view> known_time_zones() noexcept;
std::span<const std::string_view> known_countries() noexcept;
std::span<const std::string_view> known_languages() noexcept;

}  // namespace userservice::domain
