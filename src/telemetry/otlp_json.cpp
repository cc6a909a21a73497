#include "telemetry/otlp_json.h"

#include <charconv>
#include <cmath>
#include <type_traits>
#include <variant>

#include "common/utf8.h"

namespace userservice::telemetry::detail {

namespace {

void json_any_value(std::string& out, const AttributeValue& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out += "{\"stringValue\":";
          json_string(out, x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out += "{\"intValue\":";
          json_int_string(out, x);
        } else if constexpr (std::is_same_v<T, double>) {
          out += "{\"doubleValue\":";
          json_double(out, x);
        } else {
          out += "{\"boolValue\":";
          out += x ? "true" : "false";
        }
        out += '}';
      },
      v);
}

}  // namespace

void json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);  // replaces invalid UTF-8 itself
  out += '"';
}

void json_double(std::string& out, double v) {
  // Proto3 JSON spells non-finite doubles as strings.
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void json_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

void json_attributes(std::string& out, const std::vector<Attribute>& attrs) {
  out += '[';
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    if (i) out += ',';
    out += "{\"key\":";
    json_string(out, attrs[i].key);
    out += ",\"value\":";
    json_any_value(out, attrs[i].value);
    out += '}';
  }
  out += ']';
}

void json_string_attributes(std::string& out, const StringPairs& attrs) {
  out += '[';
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    if (i) out += ',';
    out += "{\"key\":";
    json_string(out, attrs[i].first);
    out += ",\"value\":{\"stringValue\":";
    json_string(out, attrs[i].second);
    out += "}}";
  }
  out += ']';
}

void json_resource_and_scope_open(std::string& out, const Resource& resource,
                                  std::string_view scope_list_key) {
  out += "{\"resource\":{\"attributes\":";
  json_attributes(out, resource.attributes);
  out += "},";
  json_key(out, scope_list_key);
  out += "[{\"scope\":{\"name\":";
  json_string(out, kScopeName);
  out += "},";
}

void json_plain_value(std::string& out, const AttributeValue& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          json_string(out, x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out += std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          json_double(out, x);
        } else {
          out += x ? "true" : "false";
        }
      },
      v);
}

}  // namespace userservice::telemetry::detail
