#include "adapters/http/message.h"

#include "telemetry/log.h"

namespace userservice::http {

std::string_view to_string(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::patch:
      return "PATCH";
    case Method::delete_:
      return "DELETE";
    case Method::options:
      return "OPTIONS";
    case Method::other:
      return "OTHER";
  }
  return "OTHER";
}

Method parse_method(std::string_view text) {
  if (text == "GET") return Method::get;
  if (text == "HEAD") return Method::head;
  if (text == "POST") return Method::post;
  if (text == "PUT") return Method::put;
  if (text == "PATCH") return Method::patch;
  if (text == "DELETE") return Method::delete_;
  if (text == "OPTIONS") return Method::options;
  return Method::other;
}

namespace {
template <class List>
std::string_view find_value(const List& list, std::string_view name) {
  for (const auto& [k, v] : list) {
    if (k == name) return v;
  }
  return {};
}
}  // namespace

std::string_view Request::header(std::string_view lower_name) const {
  return find_value(headers, lower_name);
}

std::string_view Request::param(std::string_view name) const { return find_value(params, name); }

Response json_response(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response error_response(const domain::Error& e) {
  std::string body;
  body.reserve(48 + e.message().size());
  body += R"({"error":{"code":")";
  body += domain::to_string(e.code());
  body += R"(","message":")";
  telemetry::append_json_escaped(body, e.message());
  body += "\"}}";
  return json_response(to_http_status(e.code()), std::move(body));
}

unsigned to_http_status(domain::ErrorCode code) {
  using domain::ErrorCode;
  switch (code) {
    case ErrorCode::invalid_request:
      return 400;
    case ErrorCode::subject_not_found:
      return 404;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::method_not_allowed:
      return 405;
    case ErrorCode::conflict:
      return 409;
    case ErrorCode::policy_denied:
      return 409;
    case ErrorCode::request_too_large:
      return 413;
    case ErrorCode::unsupported_media_type:
      return 415;
    case ErrorCode::service_unavailable:
      return 503;
    case ErrorCode::deadline_exceeded:
      return 504;
    case ErrorCode::internal_error:
      return 500;
  }
  return 500;
}

}  // namespace userservice::http
