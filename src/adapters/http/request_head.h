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

// Copies the (possibly partially parsed) head of `msg` into `req`: method, target split into
// path and query (absolute-form targets route on their path), lower-cased header names,
// Content-Type. The body is moved separately.
void fill_request(Request& req,
                  const boost::beast::http::request<boost::beast::http::string_body>& msg);

// "application/json" with any parameters, case-insensitive.
bool is_json_media_type(std::string_view content_type);

struct Routed {
  const Handler* handler = nullptr;  // set when the request goes to a handler
  std::string_view route;            // its pattern; valid while the Router lives
  std::optional<Response> answer;    // set instead when the request is answered here
};

// Matches `req` (filling its path params) and applies the checks that come before any
// handler: unknown path 404, wrong method 405 with Allow, a body that is not JSON on a JSON
// API 415, a malformed %-escape or a param that is not clean UTF-8 400.
Routed route_request(const Router& router, Request& req, bool json_api);

}  // namespace userservice::http
