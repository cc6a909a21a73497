#include "config/duration.h"

#include "common/utf8.h"

#include <cstdint>
#include <limits>

namespace userservice::config {

namespace {

struct Unit {
  std::string_view name;
  std::uint64_t ns;
};

// Longest names first where one is a prefix of another ("ms" before "m").
constexpr Unit kUnits[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xC2\xB5s", 1000ULL},  // U+00B5 micro sign
    {"\xCE\xBCs", 1000ULL},  // U+03BC Greek mu
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

bool fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s, std::string* why) {
  const std::string orig(s);
  constexpr std::uint64_t kMax = std::uint64_t{1} << 63;  // magnitude bound, as in Go
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds{0};
  if (s.empty()) {
    fail(why, "invalid duration " + quote_text(orig));
    return std::nullopt;
  }
  std::uint64_t total = 0;
  while (!s.empty()) {
    // Leading integer part.
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) {
      fail(why, "invalid duration " + quote_text(orig));
      return std::nullopt;
    }
    std::uint64_t v = 0;
    std::size_t i = 0;
    bool overflow = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (kMax - 1) / 10) overflow = true;
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
      if (v > kMax) overflow = true;
      ++i;
    }
    const bool pre = i > 0;
    s.remove_prefix(i);
    if (overflow) {
      fail(why, "invalid duration " + quote_text(orig) + " (overflow)");
      return std::nullopt;
    }
    // Optional fraction.
    std::uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      std::size_t j = 0;
      bool truncated = false;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
        if (!truncated) {
          if (f > (std::numeric_limits<std::uint64_t>::max() / 10) - 10) {
            truncated = true;  // further digits cannot matter
          } else {
            f = f * 10 + static_cast<std::uint64_t>(s[j] - '0');
            scale *= 10;
          }
        }
        ++j;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) {
      fail(why, "invalid duration " + quote_text(orig));
      return std::nullopt;
    }
    // Unit (required).
    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9')) ++u;
    if (u == 0) {
      fail(why, "missing unit in duration " + quote_text(orig));
      return std::nullopt;
    }
    std::string_view unit_name = s.substr(0, u);
    const Unit* unit = nullptr;
    for (const Unit& cand : kUnits) {
      if (cand.name == unit_name) unit = &cand;
    }
    if (!unit) {
      fail(why, "unknown unit " + quote_text(unit_name) + " in duration " + quote_text(orig));
      return std::nullopt;
    }
    s.remove_prefix(u);
    if (v > kMax / unit->ns) {
      fail(why, "invalid duration " + quote_text(orig) + " (overflow)");
      return std::nullopt;
    }
    v *= unit->ns;
    if (f > 0) {
      v += static_cast<std::uint64_t>(static_cast<double>(f) *
                                      (static_cast<double>(unit->ns) / scale));
      if (v > kMax) {
        fail(why, "invalid duration " + quote_text(orig) + " (overflow)");
        return std::nullopt;
      }
    }
    total += v;
    if (total > kMax) {
      fail(why, "invalid duration " + quote_text(orig) + " (overflow)");
      return std::nullopt;
    }
  }
  if (neg) {
    return std::chrono::nanoseconds{total == kMax ? std::numeric_limits<std::int64_t>::min()
                                                  : -static_cast<std::int64_t>(total)};
  }
  if (total > kMax - 1) {
    fail(why, "invalid duration " + quote_text(orig) + " (overflow)");
    return std::nullopt;
  }
  return std::chrono::nanoseconds{static_cast<std::int64_t>(total)};
}

std::string format_go_duration(std::chrono::nanoseconds d) {
  std::int64_t n = d.count();
  if (n == 0) return "0s";
  std::string out;
  std::uint64_t u =
      n < 0 ? static_cast<std::uint64_t>(-(n + 1)) + 1 : static_cast<std::uint64_t>(n);
  if (n < 0) out += '-';
  auto frac = [](std::uint64_t value, std::uint64_t div) {
    std::string s = std::to_string(value / div);
    std::uint64_t rem = value % div;
    if (rem) {
      std::string digits;
      std::uint64_t p = div / 10;
      while (p && rem) {
        digits += static_cast<char>('0' + rem / p);
        rem %= p;
        p /= 10;
      }
      s += '.' + digits;
    }
    return s;
  };
  if (u < 1000) return out + std::to_string(u) + "ns";
  if (u < 1000000) return out + frac(u, 1000) + "\xC2\xB5s";
  if (u < 1000000000) return out + frac(u, 1000000) + "ms";
  const std::uint64_t sec = 1000000000ULL;
  std::uint64_t h = u / (3600 * sec);
  u -= h * 3600 * sec;
  std::uint64_t m = u / (60 * sec);
  u -= m * 60 * sec;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  return out + frac(u, sec) + "s";
}

}  // namespace userservice::config
