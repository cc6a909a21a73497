#pragma once
// RFC 3339 timestamps on the wire (api.md §1): output is always UTC with 'Z' and
// exactly three fraction digits; input accepts any RFC 3339 offset. Pure formatting and
// parsing, in common so the JSON writer needs no domain header; domain/time.h re-exports it
// as domain::TimePoint etc. and adds require_rfc3339 (which throws a domain::Error).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace userservice::common {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr std::size_t kRfc3339MillisLength = 24;  // 2026-11-25T17:38:22.123Z

// "2026-11-25T17:38:22.123Z". Sub-millisecond digits are dropped (floor, also before
// 1970), so a formatted instant never lies after the real one.
std::string format_rfc3339_millis(TimePoint tp);
// The same 24 characters appended to `out` or written to `out[0..24)`: no allocation.
void append_rfc3339_millis(std::string& out, TimePoint tp);
void write_rfc3339_millis(TimePoint tp, char* out) noexcept;

// Parses RFC 3339 §5.6 date-time: YYYY-MM-DD, 'T' or 't', hh:mm:ss, an optional '.'
// and one or more fraction digits, then 'Z', 'z' or ±hh:mm ("-00:00" is UTC). Nothing
// may precede or follow. Decisions:
//  - fraction digits past microseconds are truncated: PostgreSQL timestamptz stores
//    microseconds, so a parsed value round-trips through the database unchanged;
//  - leap seconds (ss = 60) are rejected: system_clock has no representation for them
//    and any mapping would silently move the instant;
//  - a space instead of 'T' (allowed by an RFC note, not by its grammar) is rejected;
//  - instants outside what system_clock holds (1677-09-21T00:12:43.146Z, its earliest whole
//    millisecond, to 2262-04-11T23:47:16.854775Z) are rejected rather than wrapped, so every
//    accepted instant formats to text that parses again.
// nullopt for anything else, including impossible dates (Feb 30, month 13, hour 24).
std::optional<TimePoint> parse_rfc3339(std::string_view text);

}  // namespace userservice::common
