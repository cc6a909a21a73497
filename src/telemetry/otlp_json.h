#pragma once
// OTLP/JSON building blocks shared by the signals (otlp_traces.cpp, otlp_metrics.cpp) and their
// stdout lines: strings, numbers as proto3 JSON spells them, attributes, and the opening of the
// resource / scope envelope. Internal to src/telemetry; the encoders are in otlp.h.
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/otlp.h"

namespace userservice::telemetry::detail {

// A JSON string: quoted, escaped, invalid UTF-8 replaced by U+FFFD.
void json_string(std::string& out, std::string_view s);
// A finite double as its shortest decimal; NaN and the infinities as the strings
// "NaN", "Infinity", "-Infinity".
void json_double(std::string& out, double v);
// 64-bit integers are decimal strings in proto3 JSON.
template <typename Int>
void json_int_string(std::string& out, Int v) {
  out += '"';
  out += std::to_string(v);
  out += '"';
}

// "key": (no value).
void json_key(std::string& out, std::string_view key);
// [{"key":...,"value":{"stringValue"|"intValue"|"doubleValue"|"boolValue":...}},...]
void json_attributes(std::string& out, const std::vector<Attribute>& attrs);
// The same for string attributes (Prometheus labels).
void json_string_attributes(std::string& out, const StringPairs& attrs);
// {"resource":{"attributes":[...]},"<scope_list_key>":[{"scope":{"name":"userservice"},
// (left open: the caller writes the signal's list and closes the brackets).
void json_resource_and_scope_open(std::string& out, const Resource& resource,
                                  std::string_view scope_list_key);
// An attribute value as a native JSON value (the stdout lines).
void json_plain_value(std::string& out, const AttributeValue& v);

}  // namespace userservice::telemetry::detail
