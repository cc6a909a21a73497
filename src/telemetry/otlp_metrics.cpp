#include "telemetry/otlp.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/utf8.h"
#include "telemetry/otlp_json.h"
#include "telemetry/otlp_protobuf.h"
#include "telemetry/protobuf_writer.h"

// Metrics: Prometheus families to OTel metrics (names, units, kinds, buckets),
// ExportMetricsServiceRequest in both encodings, and the stdout metric lines.
namespace userservice::telemetry {

using detail::json_double;
using detail::json_int_string;
using detail::json_key;
using detail::json_resource_and_scope_open;
using detail::json_string;
using detail::json_string_attributes;
using detail::pb_resource;
using detail::pb_scope;
using detail::pb_string_key_value;

namespace {

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

}  // namespace

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
