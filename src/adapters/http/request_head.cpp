#include "adapters/http/request_head.h"

#include <boost/beast/core/string.hpp>

#include "common/strings.h"

namespace userservice::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using domain::Error;
using domain::ErrorCode;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  return beast::iequals(trim(type), "application/json");
}

void fill_request(Request& req, const bhttp::request<bhttp::string_body>& msg) {
  req.method_text = std::string(msg.method_string());
  req.method = parse_method(req.method_text);
  req.target = std::string(msg.target());
  std::string_view t = req.target;
  // Absolute-form ("http://host/path") is legal from proxies; route on its path only.
  if (auto scheme = t.find("://"); scheme != std::string_view::npos && t.front() != '/') {
    auto slash = t.find('/', scheme + 3);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  auto q = t.find('?');
  req.path = std::string(t.substr(0, q));
  req.query = q == std::string_view::npos ? std::string() : std::string(t.substr(q + 1));
  req.headers.clear();
  for (const auto& f : msg) req.headers.emplace_back(lower(f.name_string()), f.value());
  req.content_type = std::string(req.header("content-type"));
}

Routed route_request(const Router& router, Request& req, bool json_api) {
  Routed out;
  Router::Match m;
  try {
    m = router.match(req);
  } catch (const Error& e) {
    out.answer = error_response(e);  // bad %-escape in a path param
    return out;
  }
  if (m.handler == nullptr) {
    if (!m.path_matched) {
      out.answer = error_response(Error(ErrorCode::not_found, "no such route"));
    } else {
      out.answer = error_response(Error(ErrorCode::method_not_allowed, "method not allowed"));
      out.answer->headers.emplace_back("Allow", m.allow);
    }
    return out;
  }
  out.route = m.route;
  if (json_api && !req.body.empty() && !is_json_media_type(req.content_type)) {
    out.answer = error_response(
        Error(ErrorCode::unsupported_media_type, "request body must be application/json"));
    return out;
  }
  out.handler = m.handler;
  return out;
}

}  // namespace userservice::http
