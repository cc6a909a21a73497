#include "common/http_url.h"

#include <boost/url/parse.hpp>

#include <charconv>

namespace userservice {

std::optional<HttpUrl> parse_http_url(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<HttpUrl> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return fail("is not a valid URL: \"" + std::string(text) + "\"");
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() == boost::urls::scheme::https) {
    return fail(
        "https:// is not supported (this build has no TLS); use an http:// endpoint, "
        "for example a local collector, got \"" +
        std::string(text) + "\"");
  }
  if (u.scheme_id() != boost::urls::scheme::http) {
    return fail("must be an http:// URL, got \"" + std::string(text) + "\"");
  }
  if (!u.has_authority() || u.encoded_host_address().empty()) {
    return fail("has no host: \"" + std::string(text) + "\"");
  }
  if (u.has_userinfo())
    return fail("must not carry credentials in the URL (use the headers variable)");
  HttpUrl out;
  out.host = u.host_address();
  if (u.has_port() && !u.port().empty()) {
    unsigned port = 0;
    std::string_view p = u.port();
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || ptr != p.data() + p.size() || port == 0 || port > 65535) {
      return fail("has an invalid port: \"" + std::string(text) + "\"");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

}  // namespace userservice
