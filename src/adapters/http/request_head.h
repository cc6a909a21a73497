#pragma once
// The synchronous half of serving a request: from the message Beast parsed to the handler
// that will answer it, or to the answer itself when no handler may run (404, 405, 415, a bad
// %-escape). The server and the fuzz target `http_request` both go through these functions,
// so what is fuzzed is what runs.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string_view>

#include "adapters/http/message.h"
#include "adapters/http/router.h"

namespace userservice::http {

// Makes `req` the request whose (possibly partially parsed) head is `msg`: every field of `req`
// is reset as if default-constructed, then method, target split into path and query
// (absolute-form targets route on their path), lower-cased header names and Content-Type are
// copied in. The body is moved separately. A `req` that served an earlier request of the same
// connection keeps the capacity of its strings and lists (ids, path, headers, path params), so
// a keep-alive request mostly reuses them instead of allocating.
// Any Fields: the server's use a per-request arena.
template <class Fields>
void fill_request(Request& req,
                  const boost::beast::http::request<boost::beast::http::string_body, Fields>& msg);

// "application/json" with any parameters, case-insensitive.
bool is_json_media_type(std::string_view content_type);

struct Routed {
  const Handler* handler = nullptr;  // set when the request goes to a handler
  std::string_view route;            // its pattern; valid while the Router lives
  std::optional<Response> answer;    // set instead when the request is answered here
};

namespace detail {
// The steps of fill_request: reset `req` and set method and target; set header number `n`;
// cut the header list to `headers` and set Content-Type.
void reset_keeping_buffers(Request& req);
void start_request(Request& req, std::string_view method, std::string_view target);
void set_header(Request& req, std::size_t n, std::string_view name, std::string_view value);
void finish_request(Request& req, std::size_t headers);
}  // namespace detail

template <class Fields>
void fill_request(Request& req,
                  const boost::beast::http::request<boost::beast::http::string_body, Fields>& msg) {
  detail::start_request(req, msg.method_string(), msg.target());
  std::size_t n = 0;
  for (const auto& f : msg) detail::set_header(req, n++, f.name_string(), f.value());
  detail::finish_request(req, n);
}

// Matches `req` (filling its path params) and applies the checks that come before any
// handler: unknown path 404, wrong method 405 with Allow, a body that is not JSON on a JSON
// API 415, a malformed %-escape or a param that is not clean UTF-8 400.
Routed route_request(const Router& router, Request& req, bool json_api);

}  // namespace userservice::http
