#pragma once
// Network addresses written "host:port", "[v6 address]:port" or ":port" (listeners, Redis).
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

namespace userservice {

struct HostPort {
  std::string_view host;  // without the brackets of "[::1]"; empty for ":port"
  std::string_view port;  // the text after the last ':', not checked: see parse_port
};

// Splits `addr` at its last ':'; nullopt when it has none.
constexpr std::optional<HostPort> split_host_port(std::string_view addr) noexcept {
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  HostPort out{addr.substr(0, colon), addr.substr(colon + 1)};
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

// A port number written in decimal digits only (leading zeros allowed), 0 to 65535.
inline std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace userservice
