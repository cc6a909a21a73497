#pragma once
// HTTP request/response values shared by the router, the server and the handlers.
// Deliberately free of Beast: every handler TU includes this header.
#include <boost/asio/awaitable.hpp>

#include <cstddef>
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

// Path params, percent-DECODED, in pattern order. clear() keeps the elements and their
// buffers, so the next request of a connection assigns into them instead of allocating.
class PathParams {
 public:
  using value_type = std::pair<std::string, std::string>;  // name, value
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  const value_type* begin() const { return items_.data(); }
  const value_type* end() const { return items_.data() + size_; }
  const value_type& operator[](std::size_t i) const { return items_[i]; }
  void clear() { size_ = 0; }
  // Appends a param whose strings still hold an earlier request's contents: assign both.
  value_type& add() {
    if (size_ == items_.size()) items_.emplace_back();
    return items_[size_++];
  }
  void pop_back() { --size_; }

 private:
  std::vector<value_type> items_;
  std::size_t size_ = 0;
};

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

  PathParams params;  // path params, percent-DECODED (filled by Router::match)
  // "" when absent.
  std::string_view param(std::string_view name) const;

  RequestContext ctx;  // request_id, trace_id, span_id, deadline
};

struct Response {
  unsigned status = 200;
  std::string body;
  // A string literal (static storage): a Response is built on every request, and a std::string
  // of this length would allocate each time. "" sends no Content-Type.
  std::string_view content_type = "application/json; charset=utf-8";
  HeaderList headers;
};

Response json_response(unsigned status, std::string body);
// The api.md §1 body {"error":{"code":...,"message":...}}; only e.message() goes on the wire.
Response error_response(const domain::Error& e);
// THE one error-to-status map.
unsigned to_http_status(domain::ErrorCode code);

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace userservice::http
