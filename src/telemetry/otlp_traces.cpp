#include "telemetry/otlp.h"

#include <string>

#include "common/utf8.h"
#include "telemetry/otlp_json.h"
#include "telemetry/otlp_protobuf.h"
#include "telemetry/protobuf_writer.h"

// Traces: ExportTraceServiceRequest in both encodings, and the stdout span line.
namespace userservice::telemetry {

using detail::json_attributes;
using detail::json_double;
using detail::json_int_string;
using detail::json_plain_value;
using detail::json_resource_and_scope_open;
using detail::json_string;
using detail::pb_key_value;
using detail::pb_resource;
using detail::pb_scope;

namespace {

void pb_span(ProtobufWriter& w, std::uint32_t field, const SpanData& s) {
  std::string bytes;
  std::string scratch;
  auto m = w.begin(field);
  if (hex_to_bytes(s.trace_id, bytes) && !bytes.empty()) w.bytes_field(1, bytes);  // trace_id
  if (hex_to_bytes(s.span_id, bytes) && !bytes.empty()) w.bytes_field(2, bytes);   // span_id
  if (!s.trace_state.empty()) w.string_field(3, utf8_safe(s.trace_state, scratch));
  if (hex_to_bytes(s.parent_span_id, bytes) && !bytes.empty()) w.bytes_field(4, bytes);
  w.string_field(5, utf8_safe(s.name, scratch));                          // name
  w.varint_field(6, static_cast<std::uint64_t>(s.kind));                  // kind
  w.fixed64_field(7, s.start_unix_nano);                                  // start_time_unix_nano
  w.fixed64_field(8, s.end_unix_nano);                                    // end_time_unix_nano
  for (const auto& a : s.attributes) pb_key_value(w, 9, a.key, a.value);  // attributes
  if (s.status != SpanStatus::unset || !s.status_message.empty()) {
    auto st = w.begin(15);  // status: Status { message = 2; code = 3; }
    if (!s.status_message.empty()) w.string_field(2, utf8_safe(s.status_message, scratch));
    if (s.status != SpanStatus::unset) w.varint_field(3, static_cast<std::uint64_t>(s.status));
    w.end(st);
  }
  if ((s.flags & 0xffu) != 0) w.fixed32_field(16, s.flags & 0xffu);  // flags (W3C bits only)
  w.end(m);
}

std::string_view kind_name(SpanKind k) {
  switch (k) {
    case SpanKind::internal:
      return "internal";
    case SpanKind::server:
      return "server";
    case SpanKind::client:
      return "client";
    case SpanKind::producer:
      return "producer";
    case SpanKind::consumer:
      return "consumer";
  }
  return "internal";
}

std::string_view status_name(SpanStatus s) {
  switch (s) {
    case SpanStatus::unset:
      return "unset";
    case SpanStatus::ok:
      return "ok";
    case SpanStatus::error:
      return "error";
  }
  return "unset";
}

}  // namespace

std::string encode_traces_protobuf(const Resource& resource, std::span<const SpanData> spans) {
  ProtobufWriter w;
  if (spans.empty()) return w.take();
  auto rs = w.begin(1);                          // ExportTraceServiceRequest.resource_spans
  pb_resource(w, 1, resource);                   // ResourceSpans.resource
  auto ss = w.begin(2);                          // ResourceSpans.scope_spans
  pb_scope(w, 1);                                // ScopeSpans.scope
  for (const auto& s : spans) pb_span(w, 2, s);  // ScopeSpans.spans
  w.end(ss);
  w.end(rs);
  return w.take();
}

std::string encode_traces_json(const Resource& resource, std::span<const SpanData> spans) {
  std::string out;
  out.reserve(256 + spans.size() * 384);
  out += "{\"resourceSpans\":[";
  if (!spans.empty()) {
    json_resource_and_scope_open(out, resource, "scopeSpans");
    out += "\"spans\":[";
    for (std::size_t i = 0; i < spans.size(); ++i) {
      const SpanData& s = spans[i];
      if (i) out += ',';
      out += "{\"traceId\":";
      json_string(out, s.trace_id);
      out += ",\"spanId\":";
      json_string(out, s.span_id);
      if (!s.trace_state.empty()) {
        out += ",\"traceState\":";
        json_string(out, s.trace_state);
      }
      if (!s.parent_span_id.empty()) {
        out += ",\"parentSpanId\":";
        json_string(out, s.parent_span_id);
      }
      if ((s.flags & 0xffu) != 0) {
        out += ",\"flags\":";
        out += std::to_string(s.flags & 0xffu);
      }
      out += ",\"name\":";
      json_string(out, s.name);
      out += ",\"kind\":";
      out += std::to_string(static_cast<int>(s.kind));
      out += ",\"startTimeUnixNano\":";
      json_int_string(out, s.start_unix_nano);
      out += ",\"endTimeUnixNano\":";
      json_int_string(out, s.end_unix_nano);
      out += ",\"attributes\":";
      json_attributes(out, s.attributes);
      if (s.status != SpanStatus::unset || !s.status_message.empty()) {
        out += ",\"status\":{";
        bool comma = false;
        if (!s.status_message.empty()) {
          out += "\"message\":";
          json_string(out, s.status_message);
          comma = true;
        }
        if (s.status != SpanStatus::unset) {
          if (comma) out += ',';
          out += "\"code\":";
          out += std::to_string(static_cast<int>(s.status));
        }
        out += '}';
      }
      out += '}';
    }
    out += "]}]}";
  }
  out += "]}";
  return out;
}

void append_span_json_line(std::string& out, const SpanData& s, std::string_view service) {
  out += "{\"type\":\"span\",\"service\":";
  json_string(out, service);
  out += ",\"trace_id\":";
  json_string(out, s.trace_id);
  out += ",\"span_id\":";
  json_string(out, s.span_id);
  out += ",\"parent_span_id\":";
  json_string(out, s.parent_span_id);
  out += ",\"name\":";
  json_string(out, s.name);
  out += ",\"kind\":\"";
  out += kind_name(s.kind);
  out += "\",\"start_time_unix_nano\":";
  json_int_string(out, s.start_unix_nano);
  out += ",\"end_time_unix_nano\":";
  json_int_string(out, s.end_unix_nano);
  out += ",\"duration_ms\":";
  const std::uint64_t ns =
      s.end_unix_nano >= s.start_unix_nano ? s.end_unix_nano - s.start_unix_nano : 0;
  json_double(out, static_cast<double>(ns) / 1e6);
  out += ",\"status\":\"";
  out += status_name(s.status);
  out += '"';
  if (!s.status_message.empty()) {
    out += ",\"status_message\":";
    json_string(out, s.status_message);
  }
  out += ",\"attributes\":{";
  for (std::size_t i = 0; i < s.attributes.size(); ++i) {
    if (i) out += ',';
    json_string(out, s.attributes[i].key);
    out += ':';
    json_plain_value(out, s.attributes[i].value);
  }
  out += "}}\n";
}

}  // namespace userservice::telemetry
