#pragma once
// HTTP request/response values shared by the router, the server and the handlers.
// Deliberately free of Beast: every handler TU includes this header.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/context.h"
#include "domain/error.h"

namespace userservice::http {

enum class Method { get, head, post, put, patch, delete_, options, other };

// "GET", "HEAD", ... ; "OTHER" for Method::other (bounded label for metrics).
std::string_view to_string(Method method);
// Exact, case-sensitive token match as RFC 9110 requires; anything else is Method::other.
Method parse_method(std::string_view text);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  Method method = Method::other;
  std::string method_text;
  std::string target;  // raw request target
  std::string path;    // raw path (before '?'), NOT decoded
  std::string query;   // raw query string (after '?'), may be empty
  std::string body;
  std::string content_type;  // header value or ""
  HeaderList headers;        // lower-cased names, in arrival order
  // First value of a header; `lower_name` must be lower-case. "" when absent.
  std::string_view header(std::string_view lower_name) const;

  HeaderList params;  // path params, percent-DECODED (filled by Router::match)
  // "" when absent.
  std::string_view param(std::string_view name) const;

  RequestContext ctx;  // request_id, trace_id, span_id, deadline
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  HeaderList headers;
};

Response json_response(unsigned status, std::string body);
// The api.md §1 body {"error":{"code":...,"message":...}}; only e.message() goes on the wire.
Response error_response(const domain::Error& e);
// THE one error-to-status map.
unsigned to_http_status(domain::ErrorCode code);

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace userservice::http
