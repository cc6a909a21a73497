#include "adapters/http/request_head.h"

#include <boost/beast/core/string.hpp>

#include "common/strings.h"

namespace userservice::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using domain::Error;
using domain::ErrorCode;

namespace {

void assign_lower(std::string& out, std::string_view s) {
  out.assign(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

}  // namespace

bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  return beast::iequals(trim(type), "application/json");
}

namespace detail {

// Resets `req` to a default Request, keeping the buffers of its strings and the elements of its
// lists (their strings too), which fill_request, init_correlation and Router::match assign
// into. Built from a fresh Request, so a field added later starts from its default.
void reset_keeping_buffers(Request& req) {
  Request fresh;
  auto keep = [](std::string& from, std::string& to) {
    from.clear();
    to.swap(from);
  };
  keep(req.method_text, fresh.method_text);
  keep(req.target, fresh.target);
  keep(req.path, fresh.path);
  keep(req.query, fresh.query);
  keep(req.body, fresh.body);
  keep(req.content_type, fresh.content_type);
  keep(req.ctx.request_id, fresh.ctx.request_id);
  keep(req.ctx.trace_id, fresh.ctx.trace_id);
  keep(req.ctx.span_id, fresh.ctx.span_id);
  keep(req.ctx.parent_span_id, fresh.ctx.parent_span_id);
  keep(req.ctx.trace_state, fresh.ctx.trace_state);
  // The header elements stay: fill_request reassigns them, then cuts the list to this
  // request's headers. PathParams::clear keeps its elements by itself.
  fresh.headers.swap(req.headers);
  req.params.clear();
  std::swap(fresh.params, req.params);
  req = std::move(fresh);
}

void start_request(Request& req, std::string_view method, std::string_view target) {
  reset_keeping_buffers(req);
  req.method_text.assign(method);
  req.method = parse_method(req.method_text);
  req.target.assign(target);
  std::string_view t = req.target;
  // Absolute-form ("http://host/path") is legal from proxies; route on its path only.
  if (auto scheme = t.find("://"); scheme != std::string_view::npos && t.front() != '/') {
    auto slash = t.find('/', scheme + 3);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  auto q = t.find('?');
  req.path.assign(t.substr(0, q));
  if (q != std::string_view::npos) req.query.assign(t.substr(q + 1));
}

void set_header(Request& req, std::size_t n, std::string_view name, std::string_view value) {
  // The `n`th element is appended when the list is shorter, else assigned into.
  if (n == req.headers.size()) req.headers.emplace_back();
  assign_lower(req.headers[n].first, name);
  req.headers[n].second.assign(value);
}

void finish_request(Request& req, std::size_t headers) {
  req.headers.resize(headers);
  req.content_type.assign(req.header("content-type"));
}

}  // namespace detail

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
