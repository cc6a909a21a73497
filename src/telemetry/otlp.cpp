#include "telemetry/otlp.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>

#include "telemetry/log.h"
#include "telemetry/protobuf_writer.h"

namespace userservice::telemetry {

namespace {

// ---- strings ----

// ---- JSON ----

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

// 64-bit integers are decimal strings in proto3 JSON.
template <typename Int>
void json_int_string(std::string& out, Int v) {
  out += '"';
  out += std::to_string(v);
  out += '"';
}

void json_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

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

// ---- protobuf ----

void pb_any_value(ProtobufWriter& w, std::uint32_t field, const AttributeValue& v) {
  auto m = w.begin(field);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          std::string scratch;
          w.string_field(1, utf8_safe(x, scratch));  // AnyValue.string_value
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          w.int64_field(3, x);  // AnyValue.int_value
        } else if constexpr (std::is_same_v<T, double>) {
          w.double_field(4, x);  // AnyValue.double_value
        } else {
          w.bool_field(2, x);  // AnyValue.bool_value
        }
      },
      v);
  w.end(m);
}

// KeyValue { key = 1; value = 2; }
void pb_key_value(ProtobufWriter& w, std::uint32_t field, std::string_view key,
                  const AttributeValue& value) {
  std::string scratch;
  auto m = w.begin(field);
  w.string_field(1, utf8_safe(key, scratch));
  pb_any_value(w, 2, value);
  w.end(m);
}

void pb_string_key_value(ProtobufWriter& w, std::uint32_t field, std::string_view key,
                         std::string_view value) {
  std::string scratch;
  auto m = w.begin(field);
  w.string_field(1, utf8_safe(key, scratch));
  auto v = w.begin(2);
  w.string_field(1, utf8_safe(value, scratch));
  w.end(v);
  w.end(m);
}

// Resource { attributes = 1; }
void pb_resource(ProtobufWriter& w, std::uint32_t field, const Resource& resource) {
  auto m = w.begin(field);
  for (const auto& a : resource.attributes) pb_key_value(w, 1, a.key, a.value);
  w.end(m);
}

// InstrumentationScope { name = 1; version = 2; }
void pb_scope(ProtobufWriter& w, std::uint32_t field) {
  auto m = w.begin(field);
  w.string_field(1, kScopeName);
  w.end(m);
}

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

constexpr std::uint64_t kCumulative = 2;  // AGGREGATION_TEMPORALITY_CUMULATIVE

// NumberDataPoint { start=2 fixed64; time=3 fixed64; as_double=4 double; attributes=7; }
void pb_number_point(ProtobufWriter& w, const MetricPoint& p, std::uint64_t start,
                     std::uint64_t time) {
  auto m = w.begin(1);  // Gauge/Sum.data_points
  if (start != 0) w.fixed64_field(2, start);
  w.fixed64_field(3, time);
  w.double_field(4, p.value);  // oneof member: always written, even 0
  for (const auto& [k, v] : p.attributes) pb_string_key_value(w, 7, k, v);
  w.end(m);
}

// HistogramDataPoint { start=2; time=3; count=4 fixed64; sum=5 double;
//                      bucket_counts=6 packed fixed64; explicit_bounds=7 packed double;
//                      attributes=9; }
void pb_histogram_point(ProtobufWriter& w, const MetricPoint& p, std::uint64_t start,
                        std::uint64_t time) {
  auto m = w.begin(1);  // Histogram.data_points
  w.fixed64_field(2, start);
  w.fixed64_field(3, time);
  w.fixed64_field(4, p.count);
  w.double_field(5, p.sum);  // optional double: presence matters, always written
  w.packed_fixed64(6, p.bucket_counts);
  w.packed_double(7, p.bounds);
  for (const auto& [k, v] : p.attributes) pb_string_key_value(w, 9, k, v);
  w.end(m);
}

void pb_metric(ProtobufWriter& w, const OtelMetric& metric, std::uint64_t start,
               std::uint64_t time) {
  std::string scratch;
  auto m = w.begin(2);  // ScopeMetrics.metrics
  w.string_field(1, metric.name);
  if (!metric.description.empty()) w.string_field(2, utf8_safe(metric.description, scratch));
  if (!metric.unit.empty()) w.string_field(3, metric.unit);
  switch (metric.kind) {
    case MetricKind::gauge: {
      auto g = w.begin(5);  // Metric.gauge
      for (const auto& p : metric.points) pb_number_point(w, p, 0, time);
      w.end(g);
      break;
    }
    case MetricKind::sum: {
      auto s = w.begin(7);  // Metric.sum
      for (const auto& p : metric.points) pb_number_point(w, p, start, time);
      w.varint_field(2, kCumulative);               // aggregation_temporality
      if (metric.monotonic) w.bool_field(3, true);  // is_monotonic
      w.end(s);
      break;
    }
    case MetricKind::histogram: {
      auto h = w.begin(9);  // Metric.histogram
      for (const auto& p : metric.points) pb_histogram_point(w, p, start, time);
      w.varint_field(2, kCumulative);
      w.end(h);
      break;
    }
  }
  w.end(m);
}

// ---- minimal protobuf reading (responses only) ----

struct PbReader {
  std::string_view in;
  std::size_t pos = 0;

  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= in.size()) return false;
      const auto b = static_cast<unsigned char>(in[pos++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // Reads one field; for LEN fields `bytes` is set, otherwise `value`.
  bool next(std::uint32_t& field, std::uint32_t& type, std::uint64_t& value,
            std::string_view& bytes) {
    std::uint64_t key = 0;
    if (!varint(key)) return false;
    field = static_cast<std::uint32_t>(key >> 3);
    type = static_cast<std::uint32_t>(key & 7);
    switch (type) {
      case 0:
        return varint(value);
      case 1:
        if (in.size() - pos < 8) return false;
        pos += 8;
        return true;
      case 5:
        if (in.size() - pos < 4) return false;
        pos += 4;
        return true;
      case 2: {
        std::uint64_t len = 0;
        if (!varint(len) || len > in.size() - pos) return false;
        bytes = in.substr(pos, len);
        pos += len;
        return true;
      }
      default:
        return false;
    }
  }
  bool done() const { return pos >= in.size(); }
};

std::string random_uuid() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  std::mt19937_64 engine(seq);
  std::uint64_t hi = engine();
  std::uint64_t lo = engine();
  hi = (hi & ~0xF000ull) | 0x4000ull;              // version 4
  lo = (lo & ~(0xC0ull << 56)) | (0x80ull << 56);  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
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

}  // namespace

// ---- resource ----

Resource make_resource(std::string_view service_name, const StringPairs& extra) {
  Resource r;
  auto set = [&](std::string_view key, std::string value) {
    for (auto& a : r.attributes) {
      if (a.key == key) {
        a.value = std::move(value);
        return;
      }
    }
    r.attributes.push_back({std::string(key), std::move(value)});
  };
  set("service.name", std::string(service_name));
  set("telemetry.sdk.language", "cpp");
  set("telemetry.sdk.name", "userservice");
  for (const auto& [k, v] : extra) {
    if (k != "service.name") set(k, v);
  }
  if (resource_string(r, "service.instance.id").empty()) set("service.instance.id", random_uuid());
  return r;
}

std::string resource_string(const Resource& resource, std::string_view key) {
  for (const auto& a : resource.attributes) {
    if (a.key == key) {
      if (const auto* s = std::get_if<std::string>(&a.value)) return *s;
    }
  }
  return "";
}

// ---- traces ----

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

// ---- metrics ----

OtelMetricName otel_metric_name(std::string_view prom) {
  struct Override {
    std::string_view prometheus, name, unit;
  };
  // Process metrics keep their Prometheus client names; OTel's semantic conventions differ.
  static constexpr Override kOverrides[] = {
      {"process_cpu_seconds_total", "process.cpu.time", "s"},
      {"process_resident_memory_bytes", "process.memory.usage", "By"},
      {"process_virtual_memory_bytes", "process.memory.virtual", "By"},
      {"process_open_fds", "process.open_file_descriptor.count", "{file_descriptor}"},
      {"process_start_time_seconds", "process.start_time", "s"},
  };
  for (const auto& o : kOverrides) {
    if (o.prometheus == prom) return {std::string(o.name), std::string(o.unit)};
  }

  std::string_view base = prom;
  auto strip = [&](std::string_view suffix) {
    if (base.size() > suffix.size() && base.ends_with(suffix)) {
      base.remove_suffix(suffix.size());
      return true;
    }
    return false;
  };
  strip("_total");
  std::string unit;
  if (strip("_seconds")) {
    unit = "s";
  } else if (strip("_milliseconds")) {
    unit = "ms";
  } else if (strip("_bytes")) {
    unit = "By";
  } else if (strip("_ratio")) {
    unit = "1";
  }

  // Longest first: a compound that is a prefix of another must come after it.
  static constexpr std::string_view kCompounds[] = {
      "closed_max_idle_time", "closed_max_lifetime", "closed_max_idle",
      "active_requests",      "wait_duration",       "max_open",
  };
  std::vector<std::string_view> tokens;
  for (std::size_t start = 0;;) {
    auto us = base.find('_', start);
    tokens.push_back(base.substr(start, us == std::string_view::npos ? us : us - start));
    if (us == std::string_view::npos) break;
    start = us + 1;
  }
  std::string name;
  for (std::size_t i = 0; i < tokens.size();) {
    std::size_t used = 1;
    std::string_view piece = tokens[i];
    for (std::string_view c : kCompounds) {
      std::size_t parts = 1 + static_cast<std::size_t>(std::count(c.begin(), c.end(), '_'));
      if (i + parts > tokens.size()) continue;
      // tokens[i .. i+parts) are contiguous in `base`.
      const char* first = tokens[i].data();
      const char* last = tokens[i + parts - 1].data() + tokens[i + parts - 1].size();
      std::string_view joined(first, static_cast<std::size_t>(last - first));
      if (joined == c) {
        piece = joined;
        used = parts;
        break;
      }
    }
    if (!name.empty()) name += '.';
    name += piece;
    i += used;
  }
  return {std::move(name), std::move(unit)};
}

std::vector<OtelMetric> to_otel_metrics(std::span<const prometheus::MetricFamily> families) {
  std::vector<OtelMetric> out;
  out.reserve(families.size());
  for (const auto& fam : families) {
    if (fam.metric.empty() || fam.type == prometheus::MetricType::Summary) continue;
    OtelMetric m;
    auto nm = otel_metric_name(fam.name);
    m.name = std::move(nm.name);
    m.unit = std::move(nm.unit);
    m.description = fam.help;
    m.prometheus_name = fam.name;
    switch (fam.type) {
      case prometheus::MetricType::Counter:
        m.kind = MetricKind::sum;
        m.monotonic = true;
        break;
      case prometheus::MetricType::Histogram:
        m.kind = MetricKind::histogram;
        break;
      default:
        m.kind = MetricKind::gauge;
        break;
    }
    m.points.reserve(fam.metric.size());
    for (const auto& cm : fam.metric) {
      MetricPoint p;
      p.attributes.reserve(cm.label.size());
      for (const auto& l : cm.label) p.attributes.emplace_back(l.name, l.value);
      switch (fam.type) {
        case prometheus::MetricType::Counter:
          p.value = cm.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          p.value = cm.gauge.value;
          break;
        case prometheus::MetricType::Untyped:
          p.value = cm.untyped.value;
          break;
        case prometheus::MetricType::Histogram: {
          // Prometheus buckets are cumulative ("le") and end with +Inf; OTLP wants per-bucket
          // counts and bounds without +Inf.
          std::uint64_t previous = 0;
          std::uint64_t total = 0;
          for (const auto& b : cm.histogram.bucket) {
            const std::uint64_t here =
                b.cumulative_count >= previous ? b.cumulative_count - previous : 0;
            previous = std::max(previous, b.cumulative_count);
            if (std::isinf(b.upper_bound) && b.upper_bound > 0) {
              p.bucket_counts.push_back(here);
              total += here;
              break;
            }
            p.bounds.push_back(b.upper_bound);
            p.bucket_counts.push_back(here);
            total += here;
          }
          if (p.bucket_counts.size() == p.bounds.size()) {
            // No +Inf bucket in the snapshot: the overflow bucket is what the count says.
            const std::uint64_t rest =
                cm.histogram.sample_count > previous ? cm.histogram.sample_count - previous : 0;
            p.bucket_counts.push_back(rest);
            total += rest;
          }
          // OTLP requires count == sum(bucket_counts).
          p.count = total;
          p.sum = cm.histogram.sample_sum;
          break;
        }
        default:
          break;
      }
      m.points.push_back(std::move(p));
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string encode_metrics_protobuf(const Resource& resource, std::span<const OtelMetric> metrics,
                                    std::uint64_t start_unix_nano, std::uint64_t time_unix_nano) {
  ProtobufWriter w;
  if (metrics.empty()) return w.take();
  auto rm = w.begin(1);         // ExportMetricsServiceRequest.resource_metrics
  pb_resource(w, 1, resource);  // ResourceMetrics.resource
  auto sm = w.begin(2);         // ResourceMetrics.scope_metrics
  pb_scope(w, 1);               // ScopeMetrics.scope
  for (const auto& m : metrics) pb_metric(w, m, start_unix_nano, time_unix_nano);
  w.end(sm);
  w.end(rm);
  return w.take();
}

std::string encode_metrics_json(const Resource& resource, std::span<const OtelMetric> metrics,
                                std::uint64_t start_unix_nano, std::uint64_t time_unix_nano) {
  std::string out;
  out.reserve(512 + metrics.size() * 512);
  out += "{\"resourceMetrics\":[";
  if (!metrics.empty()) {
    json_resource_and_scope_open(out, resource, "scopeMetrics");
    out += "\"metrics\":[";
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      const OtelMetric& m = metrics[i];
      if (i) out += ',';
      out += "{\"name\":";
      json_string(out, m.name);
      if (!m.description.empty()) {
        out += ",\"description\":";
        json_string(out, m.description);
      }
      if (!m.unit.empty()) {
        out += ",\"unit\":";
        json_string(out, m.unit);
      }
      out += ',';
      json_key(out, m.kind == MetricKind::gauge ? "gauge"
                    : m.kind == MetricKind::sum ? "sum"
                                                : "histogram");
      out += "{\"dataPoints\":[";
      for (std::size_t j = 0; j < m.points.size(); ++j) {
        const MetricPoint& p = m.points[j];
        if (j) out += ',';
        out += "{\"attributes\":";
        json_string_attributes(out, p.attributes);
        if (m.kind != MetricKind::gauge) {
          out += ",\"startTimeUnixNano\":";
          json_int_string(out, start_unix_nano);
        }
        out += ",\"timeUnixNano\":";
        json_int_string(out, time_unix_nano);
        if (m.kind == MetricKind::histogram) {
          out += ",\"count\":";
          json_int_string(out, p.count);
          out += ",\"sum\":";
          json_double(out, p.sum);
          out += ",\"bucketCounts\":[";
          for (std::size_t k = 0; k < p.bucket_counts.size(); ++k) {
            if (k) out += ',';
            json_int_string(out, p.bucket_counts[k]);
          }
          out += "],\"explicitBounds\":[";
          for (std::size_t k = 0; k < p.bounds.size(); ++k) {
            if (k) out += ',';
            json_double(out, p.bounds[k]);
          }
          out += ']';
        } else {
          out += ",\"asDouble\":";
          json_double(out, p.value);
        }
        out += '}';
      }
      out += ']';
      if (m.kind != MetricKind::gauge) out += ",\"aggregationTemporality\":2";
      if (m.kind == MetricKind::sum && m.monotonic) out += ",\"isMonotonic\":true";
      out += "}}";
    }
    out += "]}]}";
  }
  out += "]}";
  return out;
}

// ---- responses ----

std::optional<PartialSuccess> parse_partial_success(std::string_view body, bool json) {
  if (body.empty()) return std::nullopt;
  if (json) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* ps = v.as_object().if_contains("partialSuccess");
    if (!ps || !ps->is_object()) return std::nullopt;
    PartialSuccess out;
    for (std::string_view key : {"rejectedSpans", "rejectedDataPoints"}) {
      if (const auto* r = ps->as_object().if_contains(key)) {
        if (r->is_int64()) out.rejected = r->as_int64();
        if (r->is_uint64()) out.rejected = static_cast<std::int64_t>(r->as_uint64());
        if (r->is_string()) {
          const auto& s = r->as_string();
          std::from_chars(s.data(), s.data() + s.size(), out.rejected);
        }
      }
    }
    if (const auto* m = ps->as_object().if_contains("errorMessage"); m && m->is_string()) {
      out.error_message = std::string(m->as_string());
    }
    return out;
  }
  PbReader r{body};
  std::optional<PartialSuccess> out;
  while (!r.done()) {
    std::uint32_t field = 0, type = 0;
    std::uint64_t value = 0;
    std::string_view bytes;
    if (!r.next(field, type, value, bytes)) return std::nullopt;
    if (field != 1 || type != 2) continue;
    PartialSuccess ps;
    PbReader inner{bytes};
    while (!inner.done()) {
      std::uint32_t f = 0, t = 0;
      std::uint64_t v = 0;
      std::string_view b;
      if (!inner.next(f, t, v, b)) return std::nullopt;
      if (f == 1 && t == 0) ps.rejected = static_cast<std::int64_t>(v);
      if (f == 2 && t == 2) ps.error_message = std::string(b);
    }
    out = std::move(ps);
  }
  return out;
}

// ---- stdout JSON lines ----

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

void append_metric_json_lines(std::string& out, const OtelMetric& m, std::uint64_t time_unix_nano,
                              std::string_view service) {
  for (const MetricPoint& p : m.points) {
    out += "{\"type\":\"metric\",\"service\":";
    json_string(out, service);
    out += ",\"name\":";
    json_string(out, m.name);
    out += ",\"prometheus_name\":";
    json_string(out, m.prometheus_name);
    out += ",\"unit\":";
    json_string(out, m.unit);
    out += ",\"kind\":\"";
    out += m.kind == MetricKind::gauge ? "gauge" : m.kind == MetricKind::sum ? "sum" : "histogram";
    out += '"';
    if (m.kind == MetricKind::sum)
      out += m.monotonic ? ",\"monotonic\":true" : ",\"monotonic\":false";
    out += ",\"time_unix_nano\":";
    json_int_string(out, time_unix_nano);
    out += ",\"attributes\":{";
    for (std::size_t i = 0; i < p.attributes.size(); ++i) {
      if (i) out += ',';
      json_string(out, p.attributes[i].first);
      out += ':';
      json_string(out, p.attributes[i].second);
    }
    out += '}';
    if (m.kind == MetricKind::histogram) {
      out += ",\"count\":";
      json_int_string(out, p.count);
      out += ",\"sum\":";
      json_double(out, p.sum);
      out += ",\"bounds\":[";
      for (std::size_t k = 0; k < p.bounds.size(); ++k) {
        if (k) out += ',';
        json_double(out, p.bounds[k]);
      }
      out += "],\"bucket_counts\":[";
      for (std::size_t k = 0; k < p.bucket_counts.size(); ++k) {
        if (k) out += ',';
        json_int_string(out, p.bucket_counts[k]);
      }
      out += ']';
    } else {
      out += ",\"value\":";
      json_double(out, p.value);
    }
    out += "}\n";
  }
}

}  // namespace userservice::telemetry
