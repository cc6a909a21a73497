#pragma once
// http:// URLs of the OTLP endpoints: checked when the configuration is loaded, used by the
// exporters' HTTP client. Pure parsing, no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace userservice {

struct HttpUrl {
  std::string host;  // name or address, IPv6 without brackets
  std::uint16_t port = 80;
  std::string target = "/";  // path and query, as sent in the request line
};

// Parses "http://host[:port][/path][?query]". Anything else (https included) is nullopt, with
// the reason in `why` ("https:// is not supported ...").
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string* why = nullptr);

}  // namespace userservice
