#include "adapters/http/json_body.h"

#include <boost/json/parse.hpp>

#include <algorithm>

#include "common/utf8.h"
#include "domain/error.h"

namespace userservice::http {

namespace json = boost::json;
using domain::invalid_request;

namespace {

// Every key and string of the document is UTF-8 text without NUL. (The parser already rejects
// invalid UTF-8 bytes; a "\u0000" escape, or an escaped lone surrogate if the parser let one
// through, would otherwise reach the database — which rejects or truncates it — and the logs.)
bool all_strings_clean(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return is_clean_text(v.get_string());
    case json::kind::array:
      return std::all_of(v.get_array().begin(), v.get_array().end(), all_strings_clean);
    case json::kind::object:
      return std::all_of(v.get_object().begin(), v.get_object().end(), [](const auto& kv) {
        return is_clean_text(kv.key()) && all_strings_clean(kv.value());
      });
    default:
      return true;
  }
}

}  // namespace

json::value parse_body_object(std::string_view body) {
  if (body.empty()) throw invalid_request("request body must be a JSON object");
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 16;  // no route takes deeper documents
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) throw invalid_request("request body is not valid JSON");
  if (!v.is_object()) throw invalid_request("request body must be a JSON object");
  if (!all_strings_clean(v)) {
    throw invalid_request("request body contains text that is not valid UTF-8, or NUL");
  }
  return v;
}

const json::value* ObjectReader::find(std::string_view name) {
  seen_.push_back(name);
  return obj_.if_contains(name);
}

std::string ObjectReader::required_string(std::string_view name) {
  const json::value* v = find(name);
  if (!v) throw invalid_request(full(name) + " is required");
  if (!v->is_string()) throw invalid_request(full(name) + " must be a string");
  return std::string(v->get_string());
}

std::optional<std::string> ObjectReader::optional_string(std::string_view name) {
  const json::value* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw invalid_request(full(name) + " must be a string");
  return std::string(v->get_string());
}

Nullable<std::string> ObjectReader::nullable_string(std::string_view name) {
  const json::value* v = find(name);
  Nullable<std::string> out;
  if (!v) return out;
  out.present = true;
  if (v->is_null()) return out;
  if (!v->is_string()) throw invalid_request(full(name) + " must be a string or null");
  out.value = std::string(v->get_string());
  return out;
}

std::optional<bool> ObjectReader::optional_bool(std::string_view name) {
  const json::value* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_bool()) throw invalid_request(full(name) + " must be a boolean");
  return v->get_bool();
}

std::optional<std::int64_t> ObjectReader::optional_int(std::string_view name) {
  const json::value* v = find(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  // 2.0 is a number but not an integer field's value; so is 1e3.
  throw invalid_request(full(name) + " must be an integer");
}

std::int64_t ObjectReader::required_int(std::string_view name) {
  if (!obj_.contains(name)) {
    seen_.push_back(name);
    throw invalid_request(full(name) + " is required");
  }
  return *optional_int(name);
}

std::vector<std::string> ObjectReader::required_string_array(std::string_view name) {
  const json::value* v = find(name);
  if (!v) throw invalid_request(full(name) + " is required");
  if (!v->is_array()) throw invalid_request(full(name) + " must be an array of strings");
  std::vector<std::string> out;
  out.reserve(v->get_array().size());
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) throw invalid_request(full(name) + " must be an array of strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

std::optional<ObjectReader> ObjectReader::optional_object(std::string_view name) {
  const json::value* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_object()) throw invalid_request(full(name) + " must be an object");
  return ObjectReader(v->get_object(), full(name) + ".");
}

ObjectReader ObjectReader::required_object(std::string_view name) {
  auto r = optional_object(name);
  if (!r) throw invalid_request(full(name) + " is required");
  return std::move(*r);
}

void ObjectReader::finish() const {
  for (const auto& kv : obj_) {
    if (std::find(seen_.begin(), seen_.end(), kv.key()) == seen_.end()) {
      // Echo the name only when it is short: the message is client-facing text.
      std::string_view k = kv.key();
      throw invalid_request(k.size() <= 64 ? "unknown field " + full(k) : "unknown field");
    }
  }
}

}  // namespace userservice::http
