#include "common/rfc3339.h"

#include <cstdint>
#include <type_traits>

namespace userservice::common {
namespace {

using std::chrono::days;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::system_clock;

// A 64-bit count of nanoseconds spans years 1677-2262, so every representable instant
// has a four-digit year and needs no range check when formatting.
static_assert(std::is_same_v<system_clock::duration::rep, std::int64_t>);
static_assert(std::ratio_less_equal_v<system_clock::period, std::micro>);

void write_digits(char* out, unsigned value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Reads exactly `width` ASCII digits at text[pos]; -1 if any is not a digit.
int read_digits(std::string_view text, std::size_t pos, int width) noexcept {
  int value = 0;
  for (int i = 0; i < width; ++i) {
    const char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

// The earliest whole millisecond system_clock holds (1677-09-21T00:12:43.146Z). Parsing stops
// there: an instant in the 854 µs before it would be written as ".145Z", which is before the
// clock's range, so the service would emit a time it could not read back (found by fuzzing).
constexpr std::int64_t kEarliestWholeMillisUs =
    -(-std::chrono::duration_cast<microseconds>(system_clock::duration::min()).count() / 1000) *
    1000;

void write_rfc3339_millis(TimePoint tp, char* out) noexcept {
  const auto ms = std::chrono::floor<milliseconds>(tp);
  const auto day = std::chrono::floor<days>(ms);
  const std::chrono::year_month_day ymd{day};
  const auto ms_of_day = static_cast<unsigned>((ms - day).count());
  const unsigned seconds_of_day = ms_of_day / 1000;
  write_digits(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  out[4] = '-';
  write_digits(out + 5, static_cast<unsigned>(ymd.month()), 2);
  out[7] = '-';
  write_digits(out + 8, static_cast<unsigned>(ymd.day()), 2);
  out[10] = 'T';
  write_digits(out + 11, seconds_of_day / 3600, 2);
  out[13] = ':';
  write_digits(out + 14, seconds_of_day / 60 % 60, 2);
  out[16] = ':';
  write_digits(out + 17, seconds_of_day % 60, 2);
  out[19] = '.';
  write_digits(out + 20, ms_of_day % 1000, 3);
  out[23] = 'Z';
}

void append_rfc3339_millis(std::string& out, TimePoint tp) {
  const std::size_t at = out.size();
  out.resize(at + kRfc3339MillisLength);
  write_rfc3339_millis(tp, out.data() + at);
}

std::string format_rfc3339_millis(TimePoint tp) {
  std::string out(kRfc3339MillisLength, '\0');
  write_rfc3339_millis(tp, out.data());
  return out;
}

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  // Shortest form: "YYYY-MM-DDThh:mm:ssZ".
  if (text.size() < 20) return std::nullopt;
  const int year = read_digits(text, 0, 4);
  const int month = read_digits(text, 5, 2);
  const int mday = read_digits(text, 8, 2);
  const int hour = read_digits(text, 11, 2);
  const int minute = read_digits(text, 14, 2);
  const int second = read_digits(text, 17, 2);
  if (year < 0 || month < 0 || mday < 0 || hour < 0 || minute < 0 || second < 0) {
    return std::nullopt;
  }
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(mday)}};
  if (!ymd.ok()) return std::nullopt;  // month 13, Feb 29 of a common year, Apr 31, ...

  std::size_t pos = 19;
  std::int64_t fraction_us = 0;
  if (text[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - first < 6) fraction_us = fraction_us * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == first) return std::nullopt;  // "." needs at least one digit
    for (std::size_t n = pos - first; n < 6; ++n) fraction_us *= 10;
  }

  if (pos >= text.size()) return std::nullopt;
  std::int64_t offset_seconds = 0;
  const char designator = text[pos];
  if (designator == 'Z' || designator == 'z') {
    ++pos;
  } else if (designator == '+' || designator == '-') {
    if (text.size() - pos < 6 || text[pos + 3] != ':') return std::nullopt;
    const int offset_hour = read_digits(text, pos + 1, 2);
    const int offset_minute = read_digits(text, pos + 4, 2);
    if (offset_hour < 0 || offset_minute < 0 || offset_hour > 23 || offset_minute > 59) {
      return std::nullopt;
    }
    offset_seconds = (offset_hour * 3600 + offset_minute * 60) * (designator == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  // Local time minus its offset is UTC. Years 0000-9999 in seconds fit easily in 64
  // bits, and so does the same in microseconds (~3.2e17 < 9.2e18).
  const std::int64_t utc_seconds = std::int64_t{sys_days{ymd}.time_since_epoch().count()} * 86400 +
                                   hour * 3600 + minute * 60 + second - offset_seconds;
  const std::int64_t utc_us = utc_seconds * 1'000'000 + fraction_us;
  // The lower bound is a whole millisecond, so every accepted instant can be written back.
  constexpr auto kMinUs = kEarliestWholeMillisUs;
  constexpr auto kMaxUs =
      std::chrono::duration_cast<microseconds>(system_clock::duration::max()).count();
  if (utc_us < kMinUs || utc_us > kMaxUs) return std::nullopt;
  return TimePoint{std::chrono::duration_cast<system_clock::duration>(microseconds{utc_us})};
}

}  // namespace userservice::common
