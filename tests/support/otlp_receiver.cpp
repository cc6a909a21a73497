#include "support/otlp_receiver.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "support/protobuf_reader.h"

namespace userservice::testing {

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

// ------------------------------------------------------------------------------------------
// Shared by both decoders.

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both).
std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a single dangling character
  return out;
}

// A decoded AnyValue: primitives as themselves, arrays/kvlists/bytes as a JSON tree that is
// rendered to text. Both encodings produce the same rendering.
struct AnyOut {
  enum class Kind { none, string, boolean, integer, dbl, complex };
  Kind kind = Kind::none;
  std::string s;
  bool b = false;
  std::int64_t i = 0;
  double d = 0;
  json::value tree;  // complex only
};

json::value to_tree(const AnyOut& v) {
  switch (v.kind) {
    case AnyOut::Kind::none:
      return nullptr;
    case AnyOut::Kind::string:
      return json::value(v.s);
    case AnyOut::Kind::boolean:
      return json::value(v.b);
    case AnyOut::Kind::integer:
      return json::value(v.i);
    case AnyOut::Kind::dbl:
      return json::value(v.d);
    case AnyOut::Kind::complex:
      return v.tree;
  }
  return nullptr;
}

std::optional<OtlpValue> to_otlp(const AnyOut& v) {
  switch (v.kind) {
    case AnyOut::Kind::none:
      return std::nullopt;
    case AnyOut::Kind::string:
      return OtlpValue(v.s);
    case AnyOut::Kind::boolean:
      return OtlpValue(v.b);
    case AnyOut::Kind::integer:
      return OtlpValue(v.i);
    case AnyOut::Kind::dbl:
      return OtlpValue(v.d);
    case AnyOut::Kind::complex:
      return OtlpValue(json::serialize(v.tree));
  }
  return std::nullopt;
}

AnyOut bytes_value(std::string_view raw) {
  AnyOut out;
  out.kind = AnyOut::Kind::complex;
  out.tree = json::value("base64:" + base64_encode(raw));
  return out;
}

void put_attribute(OtlpAttributes& attrs, const std::string& key, const AnyOut& value,
                   const std::string& where, std::vector<std::string>& warnings) {
  if (key.empty()) warnings.push_back(where + ": attribute with an empty key");
  auto v = to_otlp(value);
  if (!v) {
    warnings.push_back(where + ": attribute '" + key + "' has no value");
    return;
  }
  if (!attrs.emplace(key, *v).second) {
    warnings.push_back(where + ": duplicate attribute key '" + key + "'");
    attrs[key] = *v;
  }
}

std::string service_name_of(const OtlpAttributes& resource) {
  auto it = resource.find("service.name");
  if (it == resource.end()) return {};
  const auto* s = std::get_if<std::string>(&it->second);
  return s ? *s : std::string();
}

bool all_zero(std::string_view hex) {
  return std::all_of(hex.begin(), hex.end(), [](char c) { return c == '0'; });
}

void check_span(const ReceivedSpan& s, const std::string& where, std::vector<std::string>& w) {
  if (s.trace_id.empty() || all_zero(s.trace_id))
    w.push_back(where + ": invalid (empty/zero) trace id");
  if (s.span_id.empty() || all_zero(s.span_id))
    w.push_back(where + ": invalid (empty/zero) span id");
  if (!s.parent_span_id.empty() && all_zero(s.parent_span_id)) {
    w.push_back(where + ": all-zero parent span id (a root span leaves it empty)");
  }
  if (s.name.empty()) w.push_back(where + ": span without a name");
  if (s.kind < 1 || s.kind > 5) w.push_back(where + ": span kind " + std::to_string(s.kind));
  if (s.status_code < 0 || s.status_code > 2) {
    w.push_back(where + ": status code " + std::to_string(s.status_code));
  }
  if (s.start_unix_nano == 0 || s.end_unix_nano == 0) w.push_back(where + ": zero start/end time");
  if (s.end_unix_nano < s.start_unix_nano) w.push_back(where + ": end time before start time");
  if ((s.flags & ~0x3ffu) != 0) w.push_back(where + ": reserved flag bits set");
}

void check_metric(const ReceivedMetric& m, const std::string& where, std::vector<std::string>& w) {
  if (m.name.empty()) w.push_back(where + ": metric without a name");
  if (m.type.empty()) w.push_back(where + ": metric '" + m.name + "' has no data");
  if ((m.type == "sum" || m.type == "histogram" || m.type == "exponential_histogram") &&
      m.temporality != 1 && m.temporality != 2) {
    w.push_back(where + ": metric '" + m.name + "' temporality " + std::to_string(m.temporality));
  }
  for (std::size_t i = 0; i < m.points.size(); ++i) {
    const auto& p = m.points[i];
    const std::string pw = where + " '" + m.name + "' point " + std::to_string(i);
    if (p.time_unix_nano == 0) w.push_back(pw + ": zero time_unix_nano");
    if ((m.type == "gauge" || m.type == "sum") && !p.as_double && !p.as_int) {
      w.push_back(pw + ": number point without a value");
    }
    if (m.type == "histogram") {
      if (!p.bucket_counts.empty() && p.bucket_counts.size() != p.explicit_bounds.size() + 1) {
        w.push_back(pw + ": " + std::to_string(p.bucket_counts.size()) + " bucket counts for " +
                    std::to_string(p.explicit_bounds.size()) + " bounds");
      }
      if (p.bucket_counts.empty() && !p.explicit_bounds.empty()) {
        w.push_back(pw + ": bounds without bucket counts");
      }
      for (std::size_t k = 1; k < p.explicit_bounds.size(); ++k) {
        if (!(p.explicit_bounds[k - 1] < p.explicit_bounds[k])) {
          w.push_back(pw + ": explicit bounds not strictly increasing");
          break;
        }
      }
      std::uint64_t total = 0;
      for (auto c : p.bucket_counts) total += c;
      if (!p.bucket_counts.empty() && total != p.count) {
        w.push_back(pw + ": bucket counts add up to " + std::to_string(total) + ", count is " +
                    std::to_string(p.count));
      }
    }
  }
}

std::string where_index(const std::string& base, const char* name, std::size_t i) {
  return base + (base.empty() ? "" : ".") + name + "[" + std::to_string(i) + "]";
}

// ------------------------------------------------------------------------------------------
// Binary protobuf (field numbers from opentelemetry-proto: common/v1, resource/v1, trace/v1,
// metrics/v1, collector/*/v1).

[[noreturn]] void pb_fail(const std::string& where, const std::string& what) {
  throw OtlpDecodeError(where + ": " + what);
}

template <typename Fn>
void pb_each(std::string_view bytes, const std::string& where, Fn&& fn) {
  try {
    pb::Reader r(bytes);
    pb::Field f;
    while (r.next(f)) fn(f);
  } catch (const pb::DecodeError& e) {
    pb_fail(where, e.what());
  }
}

AnyOut pb_any(std::string_view bytes, const std::string& where, int depth);

void pb_key_value(std::string_view bytes, const std::string& where, int depth, std::string& key,
                  AnyOut& value) {
  pb_each(bytes, where, [&](const pb::Field& f) {
    if (f.number == 1)
      key = f.string();  // key
    else if (f.number == 2)
      value = pb_any(f.len(), where, depth);  // value
  });
}

AnyOut pb_any(std::string_view bytes, const std::string& where, int depth) {
  if (depth > 32) pb_fail(where, "AnyValue nested too deep");
  AnyOut out;
  pb_each(bytes, where, [&](const pb::Field& f) {
    switch (f.number) {
      case 1:
        out = {};
        out.kind = AnyOut::Kind::string;
        out.s = f.string();
        break;
      case 2:
        out = {};
        out.kind = AnyOut::Kind::boolean;
        out.b = f.boolean();
        break;
      case 3:
        out = {};
        out.kind = AnyOut::Kind::integer;
        out.i = f.int64();
        break;
      case 4:
        out = {};
        out.kind = AnyOut::Kind::dbl;
        out.d = f.dbl();
        break;
      case 5: {  // ArrayValue { repeated AnyValue values = 1; }
        json::array arr;
        pb_each(f.len(), where, [&](const pb::Field& e) {
          if (e.number == 1) arr.push_back(to_tree(pb_any(e.len(), where, depth + 1)));
        });
        out = {};
        out.kind = AnyOut::Kind::complex;
        out.tree = std::move(arr);
        break;
      }
      case 6: {  // KeyValueList { repeated KeyValue values = 1; }
        json::object obj;
        pb_each(f.len(), where, [&](const pb::Field& e) {
          if (e.number != 1) return;
          std::string k;
          AnyOut v;
          pb_key_value(e.len(), where, depth + 1, k, v);
          obj[k] = to_tree(v);
        });
        out = {};
        out.kind = AnyOut::Kind::complex;
        out.tree = std::move(obj);
        break;
      }
      case 7:
        out = bytes_value(f.len());
        break;
      default:
        break;
    }
  });
  return out;
}

void pb_attribute(const pb::Field& f, OtlpAttributes& attrs, const std::string& where,
                  std::vector<std::string>& warnings) {
  std::string key;
  AnyOut value;
  pb_key_value(f.len(), where, 0, key, value);
  put_attribute(attrs, key, value, where, warnings);
}

// Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
OtlpAttributes pb_resource(std::string_view bytes, const std::string& where,
                           std::vector<std::string>& warnings) {
  OtlpAttributes attrs;
  pb_each(bytes, where, [&](const pb::Field& f) {
    if (f.number == 1)
      pb_attribute(f, attrs, where + ".resource", warnings);
    else if (f.number == 2)
      f.uint32();
  });
  return attrs;
}

// InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3;
// uint32 dropped_attributes_count = 4; }
void pb_scope(std::string_view bytes, const std::string& where, std::string& name,
              std::string& version, std::vector<std::string>& warnings) {
  OtlpAttributes ignored;
  pb_each(bytes, where, [&](const pb::Field& f) {
    if (f.number == 1)
      name = f.string();
    else if (f.number == 2)
      version = f.string();
    else if (f.number == 3)
      pb_attribute(f, ignored, where + ".scope", warnings);
    else if (f.number == 4)
      f.uint32();
  });
}

std::string pb_id(const pb::Field& f, std::size_t size, const std::string& where,
                  const char* what) {
  std::string_view raw = f.len();
  if (!raw.empty() && raw.size() != size) {
    pb_fail(where, std::string(what) + " has " + std::to_string(raw.size()) + " bytes, expected " +
                       std::to_string(size));
  }
  return pb::to_hex(raw);
}

ReceivedSpan pb_span(std::string_view bytes, const std::string& where,
                     std::vector<std::string>& warnings) {
  ReceivedSpan s;
  s.encoding = "protobuf";
  pb_each(bytes, where, [&](const pb::Field& f) {
    switch (f.number) {
      case 1:
        s.trace_id = pb_id(f, 16, where, "trace_id");
        break;
      case 2:
        s.span_id = pb_id(f, 8, where, "span_id");
        break;
      case 3:
        s.trace_state = f.string();
        break;
      case 4:
        s.parent_span_id = pb_id(f, 8, where, "parent_span_id");
        break;
      case 5:
        s.name = f.string();
        break;
      case 6:
        s.kind = f.int32();
        break;
      case 7:
        s.start_unix_nano = f.fixed64();
        break;
      case 8:
        s.end_unix_nano = f.fixed64();
        break;
      case 9:
        pb_attribute(f, s.attributes, where, warnings);
        break;
      case 10:
        f.uint32();
        break;
      case 11:
        f.len();
        ++s.events;
        break;
      case 12:
        f.uint32();
        break;
      case 13:
        f.len();
        ++s.links;
        break;
      case 14:
        f.uint32();
        break;
      case 15:  // Status { reserved 1; string message = 2; StatusCode code = 3; }
        pb_each(f.len(), where + ".status", [&](const pb::Field& st) {
          if (st.number == 2)
            s.status_message = st.string();
          else if (st.number == 3)
            s.status_code = st.int32();
        });
        break;
      case 16:
        s.flags = f.fixed32();
        break;
      default:
        break;
    }
  });
  return s;
}

ReceivedPoint pb_number_point(std::string_view bytes, const std::string& where,
                              std::vector<std::string>& warnings) {
  // NumberDataPoint { attributes = 7; start = 2 (fixed64); time = 3 (fixed64);
  // oneof value { double as_double = 4; sfixed64 as_int = 6; } exemplars = 5; flags = 8; }
  ReceivedPoint p;
  pb_each(bytes, where, [&](const pb::Field& f) {
    switch (f.number) {
      case 7:
        pb_attribute(f, p.attributes, where, warnings);
        break;
      case 2:
        p.start_unix_nano = f.fixed64();
        break;
      case 3:
        p.time_unix_nano = f.fixed64();
        break;
      case 4:
        p.as_double = f.dbl();
        p.as_int.reset();
        break;
      case 6:
        p.as_int = f.sfixed64();
        p.as_double.reset();
        break;
      case 5:
        f.len();
        break;
      case 8:
        p.flags = f.uint32();
        break;
      default:
        break;
    }
  });
  return p;
}

ReceivedPoint pb_histogram_point(std::string_view bytes, const std::string& where,
                                 std::vector<std::string>& warnings) {
  // HistogramDataPoint { attributes = 9; start = 2; time = 3; fixed64 count = 4;
  // optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double
  // explicit_bounds = 7; exemplars = 8; uint32 flags = 10; optional double min = 11, max = 12; }
  ReceivedPoint p;
  pb_each(bytes, where, [&](const pb::Field& f) {
    try {
      switch (f.number) {
        case 9:
          pb_attribute(f, p.attributes, where, warnings);
          break;
        case 2:
          p.start_unix_nano = f.fixed64();
          break;
        case 3:
          p.time_unix_nano = f.fixed64();
          break;
        case 4:
          p.count = f.fixed64();
          break;
        case 5:
          p.sum = f.dbl();
          break;
        case 6:
          pb::append_fixed64(f, p.bucket_counts);
          break;
        case 7:
          pb::append_double(f, p.explicit_bounds);
          break;
        case 8:
          f.len();
          break;
        case 10:
          p.flags = f.uint32();
          break;
        case 11:
          p.min = f.dbl();
          break;
        case 12:
          p.max = f.dbl();
          break;
        default:
          break;
      }
    } catch (const pb::DecodeError& e) {
      pb_fail(where, e.what());
    }
  });
  return p;
}

// ExponentialHistogramDataPoint (attributes = 1, count = 4, sum = 5, flags = 10, min = 12,
// max = 13) and SummaryDataPoint (attributes = 7, count = 4, sum = 5, flags = 8): only the
// fields that every point type shares are kept.
ReceivedPoint pb_count_sum_point(std::string_view bytes, std::uint32_t attributes_field,
                                 const std::string& where, std::vector<std::string>& warnings) {
  ReceivedPoint p;
  pb_each(bytes, where, [&](const pb::Field& f) {
    if (f.number == attributes_field)
      pb_attribute(f, p.attributes, where, warnings);
    else if (f.number == 2)
      p.start_unix_nano = f.fixed64();
    else if (f.number == 3)
      p.time_unix_nano = f.fixed64();
    else if (f.number == 4)
      p.count = f.fixed64();
    else if (f.number == 5)
      p.sum = f.dbl();
  });
  return p;
}

ReceivedMetric pb_metric(std::string_view bytes, const std::string& where,
                         std::vector<std::string>& warnings) {
  ReceivedMetric m;
  m.encoding = "protobuf";
  pb_each(bytes, where, [&](const pb::Field& f) {
    switch (f.number) {
      case 1:
        m.name = f.string();
        break;
      case 2:
        m.description = f.string();
        break;
      case 3:
        m.unit = f.string();
        break;
      case 5:  // Gauge { repeated NumberDataPoint data_points = 1; }
        m.type = "gauge";
        m.points.clear();
        pb_each(f.len(), where, [&](const pb::Field& g) {
          if (g.number == 1) m.points.push_back(pb_number_point(g.len(), where, warnings));
        });
        break;
      case 7:  // Sum { data_points = 1; aggregation_temporality = 2; bool is_monotonic = 3; }
        m.type = "sum";
        m.points.clear();
        pb_each(f.len(), where, [&](const pb::Field& g) {
          if (g.number == 1)
            m.points.push_back(pb_number_point(g.len(), where, warnings));
          else if (g.number == 2)
            m.temporality = g.int32();
          else if (g.number == 3)
            m.monotonic = g.boolean();
        });
        break;
      case 9:  // Histogram { data_points = 1; aggregation_temporality = 2; }
        m.type = "histogram";
        m.points.clear();
        pb_each(f.len(), where, [&](const pb::Field& g) {
          if (g.number == 1)
            m.points.push_back(pb_histogram_point(g.len(), where, warnings));
          else if (g.number == 2)
            m.temporality = g.int32();
        });
        break;
      case 10:  // ExponentialHistogram { data_points = 1; aggregation_temporality = 2; }
        m.type = "exponential_histogram";
        m.points.clear();
        pb_each(f.len(), where, [&](const pb::Field& g) {
          if (g.number == 1)
            m.points.push_back(pb_count_sum_point(g.len(), 1, where, warnings));
          else if (g.number == 2)
            m.temporality = g.int32();
        });
        break;
      case 11:  // Summary { data_points = 1; }
        m.type = "summary";
        m.points.clear();
        pb_each(f.len(), where, [&](const pb::Field& g) {
          if (g.number == 1) m.points.push_back(pb_count_sum_point(g.len(), 7, where, warnings));
        });
        break;
      case 12:
        f.len();
        break;  // metadata
      default:
        break;
    }
  });
  return m;
}

// ------------------------------------------------------------------------------------------
// JSON (docs/specification.md "JSON Protobuf Encoding": lowerCamelCase keys, hex ids, enums as
// integers only, 64-bit integers as strings or numbers, unknown keys ignored).

[[noreturn]] void j_fail(const std::string& where, const std::string& what) {
  throw OtlpDecodeError(where + ": " + what);
}

std::string camel_of(std::string_view snake) {
  std::string out;
  bool up = false;
  for (char c : snake) {
    if (c == '_') {
      up = true;
    } else {
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
  }
  return out;
}

// Unknown keys are ignored, as the specification requires; but the original snake_case name of
// a known field is an encoder bug that would otherwise silently drop data.
void j_keys(const json::object& o, std::initializer_list<std::string_view> known,
            const std::string& where) {
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (key.find('_') == std::string_view::npos) continue;
    const std::string camel = camel_of(key);
    if (std::find(known.begin(), known.end(), camel) != known.end()) {
      j_fail(where, "key '" + std::string(key) + "' must be lowerCamelCase ('" + camel + "')");
    }
  }
}

const json::value* j_get(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

const json::object& j_object(const json::value& v, const std::string& where) {
  if (!v.is_object()) j_fail(where, "expected an object");
  return v.get_object();
}

const json::array& j_array(const json::value* v, const std::string& where) {
  static const json::array kEmpty;
  if (!v) return kEmpty;
  if (!v->is_array()) j_fail(where, "expected an array");
  return v->get_array();
}

std::string j_string(const json::value* v, const std::string& where) {
  if (!v) return {};
  if (!v->is_string()) j_fail(where, "expected a string");
  return std::string(v->get_string());
}

bool j_bool(const json::value* v, const std::string& where) {
  if (!v) return false;
  if (!v->is_bool()) j_fail(where, "expected true or false");
  return v->get_bool();
}

// proto3 JSON integers: a number, or a decimal string (the form 64-bit values usually take).
template <typename T>
T j_integer(const json::value* v, const std::string& where, bool allow_string) {
  if (!v) return 0;
  if (v->is_int64()) {
    const std::int64_t x = v->get_int64();
    if (!std::in_range<T>(x)) j_fail(where, "integer out of range");
    return static_cast<T>(x);
  }
  if (v->is_uint64()) {
    const std::uint64_t x = v->get_uint64();
    if (!std::in_range<T>(x)) j_fail(where, "integer out of range");
    return static_cast<T>(x);
  }
  if (v->is_double()) {
    const double d = v->get_double();
    // Large values arrive as doubles; only exactly-integral ones within range are integers.
    if (std::trunc(d) != d || d < static_cast<double>(std::numeric_limits<T>::min()) ||
        d >= std::ldexp(1.0, std::numeric_limits<T>::digits)) {
      j_fail(where, "not an integer");
    }
    return static_cast<T>(d);
  }
  if (v->is_string() && allow_string) {
    const std::string_view s = v->get_string();
    T out{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      j_fail(where, "'" + std::string(s) + "' is not a decimal integer");
    }
    return out;
  }
  j_fail(where, allow_string ? "expected an integer or a decimal string" : "expected an integer");
}

std::uint64_t j_u64(const json::value* v, const std::string& w) {
  return j_integer<std::uint64_t>(v, w, true);
}
std::int64_t j_i64(const json::value* v, const std::string& w) {
  return j_integer<std::int64_t>(v, w, true);
}
std::uint32_t j_u32(const json::value* v, const std::string& w) {
  return j_integer<std::uint32_t>(v, w, true);
}
// Enums: integers only ("the enum name strings MUST NOT be used").
int j_enum(const json::value* v, const std::string& w) {
  return j_integer<std::int32_t>(v, w, false);
}

double j_double(const json::value* v, const std::string& where) {
  if (!v) return 0;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_string()) {
    const std::string s(v->get_string());
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return INFINITY;
    if (s == "-Infinity") return -INFINITY;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() &&
        !std::isspace(static_cast<unsigned char>(s[0]))) {
      return d;
    }
    j_fail(where, "'" + s + "' is not a number");
  }
  j_fail(where, "expected a number");
}

std::string j_hex_id(const json::value* v, std::size_t bytes, const std::string& where,
                     const char* what) {
  std::string s = j_string(v, where);
  if (s.empty()) return s;
  if (s.size() != bytes * 2) {
    j_fail(where,
           std::string(what) + " '" + s + "' is not " + std::to_string(bytes * 2) + " hex digits");
  }
  for (char& c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      j_fail(where,
             std::string(what) + " '" + s + "' is not hex (base64 ids are wrong in OTLP/JSON)");
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

AnyOut j_any(const json::value& v, const std::string& where, int depth);

void j_key_value(const json::value& v, const std::string& where, int depth, std::string& key,
                 AnyOut& value) {
  const auto& o = j_object(v, where);
  j_keys(o, {"key", "value"}, where);
  key = j_string(j_get(o, "key"), where + ".key");
  if (const auto* val = j_get(o, "value")) value = j_any(*val, where + ".value", depth);
}

AnyOut j_any(const json::value& v, const std::string& where, int depth) {
  if (depth > 32) j_fail(where, "AnyValue nested too deep");
  const auto& o = j_object(v, where);
  j_keys(o,
         {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
          "bytesValue"},
         where);
  AnyOut out;
  int set = 0;
  if (const auto* x = j_get(o, "stringValue")) {
    out.kind = AnyOut::Kind::string;
    out.s = j_string(x, where);
    ++set;
  }
  if (const auto* x = j_get(o, "boolValue")) {
    out.kind = AnyOut::Kind::boolean;
    out.b = j_bool(x, where);
    ++set;
  }
  if (const auto* x = j_get(o, "intValue")) {
    out.kind = AnyOut::Kind::integer;
    out.i = j_i64(x, where);
    ++set;
  }
  if (const auto* x = j_get(o, "doubleValue")) {
    out.kind = AnyOut::Kind::dbl;
    out.d = j_double(x, where);
    ++set;
  }
  if (const auto* x = j_get(o, "arrayValue")) {
    const auto& av = j_object(*x, where + ".arrayValue");
    j_keys(av, {"values"}, where);
    json::array arr;
    for (const auto& e : j_array(j_get(av, "values"), where)) {
      arr.push_back(to_tree(j_any(e, where, depth + 1)));
    }
    out.kind = AnyOut::Kind::complex;
    out.tree = std::move(arr);
    ++set;
  }
  if (const auto* x = j_get(o, "kvlistValue")) {
    const auto& kv = j_object(*x, where + ".kvlistValue");
    j_keys(kv, {"values"}, where);
    json::object obj;
    for (const auto& e : j_array(j_get(kv, "values"), where)) {
      std::string k;
      AnyOut val;
      j_key_value(e, where, depth + 1, k, val);
      obj[k] = to_tree(val);
    }
    out.kind = AnyOut::Kind::complex;
    out.tree = std::move(obj);
    ++set;
  }
  if (const auto* x = j_get(o, "bytesValue")) {
    auto raw = base64_decode(j_string(x, where));
    if (!raw) j_fail(where, "bytesValue is not base64");
    out = bytes_value(*raw);
    ++set;
  }
  if (set > 1) j_fail(where, "more than one member of the AnyValue oneof");
  return out;
}

void j_attributes(const json::value* v, OtlpAttributes& attrs, const std::string& where,
                  std::vector<std::string>& warnings) {
  const auto& arr = j_array(v, where);
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string key;
    AnyOut value;
    j_key_value(arr[i], where_index(where, "attributes", i), 0, key, value);
    put_attribute(attrs, key, value, where, warnings);
  }
}

OtlpAttributes j_resource(const json::value* v, const std::string& where,
                          std::vector<std::string>& warnings) {
  OtlpAttributes attrs;
  if (!v) return attrs;
  const auto& o = j_object(*v, where);
  j_keys(o, {"attributes", "droppedAttributesCount", "entityRefs"}, where);
  j_attributes(j_get(o, "attributes"), attrs, where, warnings);
  j_u32(j_get(o, "droppedAttributesCount"), where);
  return attrs;
}

void j_scope(const json::value* v, const std::string& where, std::string& name,
             std::string& version, std::vector<std::string>& warnings) {
  if (!v) return;
  const auto& o = j_object(*v, where);
  j_keys(o, {"name", "version", "attributes", "droppedAttributesCount"}, where);
  name = j_string(j_get(o, "name"), where + ".name");
  version = j_string(j_get(o, "version"), where + ".version");
  OtlpAttributes ignored;
  j_attributes(j_get(o, "attributes"), ignored, where, warnings);
  j_u32(j_get(o, "droppedAttributesCount"), where);
}

ReceivedSpan j_span(const json::value& v, const std::string& where,
                    std::vector<std::string>& warnings) {
  const auto& o = j_object(v, where);
  j_keys(o,
         {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
          "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount", "events",
          "droppedEventsCount", "links", "droppedLinksCount", "status"},
         where);
  ReceivedSpan s;
  s.encoding = "json";
  s.trace_id = j_hex_id(j_get(o, "traceId"), 16, where, "traceId");
  s.span_id = j_hex_id(j_get(o, "spanId"), 8, where, "spanId");
  s.parent_span_id = j_hex_id(j_get(o, "parentSpanId"), 8, where, "parentSpanId");
  s.trace_state = j_string(j_get(o, "traceState"), where + ".traceState");
  s.flags = j_u32(j_get(o, "flags"), where + ".flags");
  s.name = j_string(j_get(o, "name"), where + ".name");
  s.kind = j_enum(j_get(o, "kind"), where + ".kind");
  s.start_unix_nano = j_u64(j_get(o, "startTimeUnixNano"), where + ".startTimeUnixNano");
  s.end_unix_nano = j_u64(j_get(o, "endTimeUnixNano"), where + ".endTimeUnixNano");
  j_attributes(j_get(o, "attributes"), s.attributes, where, warnings);
  j_u32(j_get(o, "droppedAttributesCount"), where + ".droppedAttributesCount");
  s.events = j_array(j_get(o, "events"), where + ".events").size();
  s.links = j_array(j_get(o, "links"), where + ".links").size();
  j_u32(j_get(o, "droppedEventsCount"), where + ".droppedEventsCount");
  j_u32(j_get(o, "droppedLinksCount"), where + ".droppedLinksCount");
  if (const auto* st = j_get(o, "status")) {
    const auto& so = j_object(*st, where + ".status");
    j_keys(so, {"message", "code"}, where + ".status");
    s.status_message = j_string(j_get(so, "message"), where + ".status.message");
    s.status_code = j_enum(j_get(so, "code"), where + ".status.code");
  }
  return s;
}

void j_point_common(const json::object& o, ReceivedPoint& p, const std::string& where,
                    std::vector<std::string>& warnings) {
  j_attributes(j_get(o, "attributes"), p.attributes, where, warnings);
  p.start_unix_nano = j_u64(j_get(o, "startTimeUnixNano"), where + ".startTimeUnixNano");
  p.time_unix_nano = j_u64(j_get(o, "timeUnixNano"), where + ".timeUnixNano");
  p.flags = j_u32(j_get(o, "flags"), where + ".flags");
}

std::optional<double> j_opt_double(const json::object& o, std::string_view key,
                                   const std::string& where) {
  const auto* v = j_get(o, key);
  if (!v) return std::nullopt;
  return j_double(v, where + "." + std::string(key));
}

ReceivedPoint j_point(const json::value& v, const std::string& type, const std::string& where,
                      std::vector<std::string>& warnings) {
  const auto& o = j_object(v, where);
  ReceivedPoint p;
  if (type == "gauge" || type == "sum") {
    j_keys(o,
           {"attributes", "startTimeUnixNano", "timeUnixNano", "asDouble", "asInt", "exemplars",
            "flags"},
           where);
    j_point_common(o, p, where, warnings);
    const auto* d = j_get(o, "asDouble");
    const auto* i = j_get(o, "asInt");
    if (d && i) j_fail(where, "both asDouble and asInt");
    if (d) p.as_double = j_double(d, where + ".asDouble");
    if (i) p.as_int = j_i64(i, where + ".asInt");
  } else if (type == "histogram") {
    j_keys(o,
           {"attributes", "startTimeUnixNano", "timeUnixNano", "count", "sum", "bucketCounts",
            "explicitBounds", "exemplars", "flags", "min", "max"},
           where);
    j_point_common(o, p, where, warnings);
    p.count = j_u64(j_get(o, "count"), where + ".count");
    p.sum = j_opt_double(o, "sum", where);
    for (const auto& c : j_array(j_get(o, "bucketCounts"), where + ".bucketCounts")) {
      p.bucket_counts.push_back(j_u64(&c, where + ".bucketCounts"));
    }
    for (const auto& b : j_array(j_get(o, "explicitBounds"), where + ".explicitBounds")) {
      p.explicit_bounds.push_back(j_double(&b, where + ".explicitBounds"));
    }
    p.min = j_opt_double(o, "min", where);
    p.max = j_opt_double(o, "max", where);
  } else {  // exponential histogram, summary: the shared fields only
    j_keys(o,
           {"attributes", "startTimeUnixNano", "timeUnixNano", "count", "sum", "flags", "zeroCount",
            "zeroThreshold", "quantileValues", "exemplars", "min", "max"},
           where);
    j_point_common(o, p, where, warnings);
    p.count = j_u64(j_get(o, "count"), where + ".count");
    p.sum = j_opt_double(o, "sum", where);
  }
  return p;
}

ReceivedMetric j_metric(const json::value& v, const std::string& where,
                        std::vector<std::string>& warnings) {
  const auto& o = j_object(v, where);
  j_keys(o,
         {"name", "description", "unit", "gauge", "sum", "histogram", "exponentialHistogram",
          "summary", "metadata"},
         where);
  ReceivedMetric m;
  m.encoding = "json";
  m.name = j_string(j_get(o, "name"), where + ".name");
  m.description = j_string(j_get(o, "description"), where + ".description");
  m.unit = j_string(j_get(o, "unit"), where + ".unit");
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"gauge", "gauge"},
      {"sum", "sum"},
      {"histogram", "histogram"},
      {"exponentialHistogram", "exponential_histogram"},
      {"summary", "summary"}};
  for (const auto& [key, type] : kTypes) {
    const auto* data = j_get(o, key);
    if (!data) continue;
    if (!m.type.empty())
      j_fail(where, "more than one data member (" + m.type + ", " + std::string(type) + ")");
    m.type = std::string(type);
    const std::string dw = where + "." + std::string(key);
    const auto& d = j_object(*data, dw);
    j_keys(d, {"dataPoints", "aggregationTemporality", "isMonotonic"}, dw);
    m.temporality = j_enum(j_get(d, "aggregationTemporality"), dw + ".aggregationTemporality");
    m.monotonic = j_bool(j_get(d, "isMonotonic"), dw + ".isMonotonic");
    const auto& points = j_array(j_get(d, "dataPoints"), dw + ".dataPoints");
    for (std::size_t i = 0; i < points.size(); ++i) {
      m.points.push_back(j_point(points[i], m.type, where_index(dw, "dataPoints", i), warnings));
    }
  }
  return m;
}

json::value j_parse_root(std::string_view body, const char* top_key) {
  json::error_code ec;
  json::value root = json::parse(body, ec);
  if (ec) throw OtlpDecodeError("invalid JSON: " + ec.message());
  if (!root.is_object()) throw OtlpDecodeError("the body is not a JSON object");
  j_keys(root.get_object(), {top_key}, "request");
  return root;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Public decoders.

std::string to_string(const OtlpValue& value) {
  struct {
    std::string operator()(const std::string& s) const { return json::serialize(json::value(s)); }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return json::serialize(json::value(d)); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  } visitor;
  return std::visit(visitor, value);
}

std::optional<OtlpValue> ReceivedSpan::attribute(const std::string& key) const {
  auto it = attributes.find(key);
  if (it == attributes.end()) return std::nullopt;
  return it->second;
}

double ReceivedPoint::value() const {
  if (as_double) return *as_double;
  if (as_int) return static_cast<double>(*as_int);
  return 0;
}

std::vector<ReceivedSpan> decode_traces_protobuf(std::string_view body,
                                                 std::vector<std::string>& warnings) {
  std::vector<ReceivedSpan> out;
  std::size_t rs_index = 0;
  // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
  pb_each(body, "request", [&](const pb::Field& rs) {
    if (rs.number != 1) return;
    const std::string rw = where_index("", "resource_spans", rs_index++);
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2;
    // string schema_url = 3; } -- fields may come in any order: resource is applied at the end.
    OtlpAttributes resource;
    std::vector<ReceivedSpan> spans;
    std::size_t ss_index = 0;
    pb_each(rs.len(), rw, [&](const pb::Field& f) {
      if (f.number == 1) {
        resource = pb_resource(f.len(), rw, warnings);
      } else if (f.number == 3) {
        f.string();
      } else if (f.number == 2) {
        const std::string sw = where_index(rw, "scope_spans", ss_index++);
        // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; schema_url = 3; }
        std::string scope_name, scope_version;
        std::vector<ReceivedSpan> scoped;
        std::size_t span_index = 0;
        pb_each(f.len(), sw, [&](const pb::Field& g) {
          if (g.number == 1)
            pb_scope(g.len(), sw, scope_name, scope_version, warnings);
          else if (g.number == 2)
            scoped.push_back(pb_span(g.len(), where_index(sw, "spans", span_index++), warnings));
          else if (g.number == 3)
            g.string();
        });
        for (auto& s : scoped) {
          s.scope_name = scope_name;
          s.scope_version = scope_version;
          spans.push_back(std::move(s));
        }
      }
    });
    for (auto& s : spans) {
      s.resource_attributes = resource;
      s.service_name = service_name_of(resource);
      out.push_back(std::move(s));
    }
  });
  for (std::size_t i = 0; i < out.size(); ++i)
    check_span(out[i], "span '" + out[i].name + "'", warnings);
  return out;
}

std::vector<ReceivedSpan> decode_traces_json(std::string_view body,
                                             std::vector<std::string>& warnings) {
  json::value root = j_parse_root(body, "resourceSpans");
  std::vector<ReceivedSpan> out;
  const auto& rss = j_array(j_get(root.get_object(), "resourceSpans"), "resourceSpans");
  for (std::size_t r = 0; r < rss.size(); ++r) {
    const std::string rw = where_index("", "resourceSpans", r);
    const auto& rs = j_object(rss[r], rw);
    j_keys(rs, {"resource", "scopeSpans", "schemaUrl"}, rw);
    const OtlpAttributes resource = j_resource(j_get(rs, "resource"), rw + ".resource", warnings);
    j_string(j_get(rs, "schemaUrl"), rw + ".schemaUrl");
    const auto& sss = j_array(j_get(rs, "scopeSpans"), rw + ".scopeSpans");
    for (std::size_t s = 0; s < sss.size(); ++s) {
      const std::string sw = where_index(rw, "scopeSpans", s);
      const auto& ss = j_object(sss[s], sw);
      j_keys(ss, {"scope", "spans", "schemaUrl"}, sw);
      std::string scope_name, scope_version;
      j_scope(j_get(ss, "scope"), sw + ".scope", scope_name, scope_version, warnings);
      j_string(j_get(ss, "schemaUrl"), sw + ".schemaUrl");
      const auto& spans = j_array(j_get(ss, "spans"), sw + ".spans");
      for (std::size_t k = 0; k < spans.size(); ++k) {
        ReceivedSpan span = j_span(spans[k], where_index(sw, "spans", k), warnings);
        span.resource_attributes = resource;
        span.service_name = service_name_of(resource);
        span.scope_name = scope_name;
        span.scope_version = scope_version;
        out.push_back(std::move(span));
      }
    }
  }
  for (const auto& s : out) check_span(s, "span '" + s.name + "'", warnings);
  return out;
}

std::vector<ReceivedMetric> decode_metrics_protobuf(std::string_view body,
                                                    std::vector<std::string>& warnings) {
  std::vector<ReceivedMetric> out;
  std::size_t rm_index = 0;
  // ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
  pb_each(body, "request", [&](const pb::Field& rm) {
    if (rm.number != 1) return;
    const std::string rw = where_index("", "resource_metrics", rm_index++);
    // ResourceMetrics { resource = 1; repeated ScopeMetrics scope_metrics = 2; schema_url = 3; }
    OtlpAttributes resource;
    std::vector<ReceivedMetric> metrics;
    std::size_t sm_index = 0;
    pb_each(rm.len(), rw, [&](const pb::Field& f) {
      if (f.number == 1) {
        resource = pb_resource(f.len(), rw, warnings);
      } else if (f.number == 3) {
        f.string();
      } else if (f.number == 2) {
        const std::string sw = where_index(rw, "scope_metrics", sm_index++);
        // ScopeMetrics { scope = 1; repeated Metric metrics = 2; schema_url = 3; }
        std::string scope_name, scope_version;
        std::vector<ReceivedMetric> scoped;
        std::size_t m_index = 0;
        pb_each(f.len(), sw, [&](const pb::Field& g) {
          if (g.number == 1)
            pb_scope(g.len(), sw, scope_name, scope_version, warnings);
          else if (g.number == 2)
            scoped.push_back(pb_metric(g.len(), where_index(sw, "metrics", m_index++), warnings));
          else if (g.number == 3)
            g.string();
        });
        for (auto& m : scoped) {
          m.scope_name = scope_name;
          metrics.push_back(std::move(m));
        }
      }
    });
    for (auto& m : metrics) {
      m.resource_attributes = resource;
      m.service_name = service_name_of(resource);
      out.push_back(std::move(m));
    }
  });
  for (const auto& m : out) check_metric(m, "metric", warnings);
  return out;
}

std::vector<ReceivedMetric> decode_metrics_json(std::string_view body,
                                                std::vector<std::string>& warnings) {
  json::value root = j_parse_root(body, "resourceMetrics");
  std::vector<ReceivedMetric> out;
  const auto& rms = j_array(j_get(root.get_object(), "resourceMetrics"), "resourceMetrics");
  for (std::size_t r = 0; r < rms.size(); ++r) {
    const std::string rw = where_index("", "resourceMetrics", r);
    const auto& rm = j_object(rms[r], rw);
    j_keys(rm, {"resource", "scopeMetrics", "schemaUrl"}, rw);
    const OtlpAttributes resource = j_resource(j_get(rm, "resource"), rw + ".resource", warnings);
    j_string(j_get(rm, "schemaUrl"), rw + ".schemaUrl");
    const auto& sms = j_array(j_get(rm, "scopeMetrics"), rw + ".scopeMetrics");
    for (std::size_t s = 0; s < sms.size(); ++s) {
      const std::string sw = where_index(rw, "scopeMetrics", s);
      const auto& sm = j_object(sms[s], sw);
      j_keys(sm, {"scope", "metrics", "schemaUrl"}, sw);
      std::string scope_name, scope_version;
      j_scope(j_get(sm, "scope"), sw + ".scope", scope_name, scope_version, warnings);
      j_string(j_get(sm, "schemaUrl"), sw + ".schemaUrl");
      const auto& metrics = j_array(j_get(sm, "metrics"), sw + ".metrics");
      for (std::size_t k = 0; k < metrics.size(); ++k) {
        ReceivedMetric m = j_metric(metrics[k], where_index(sw, "metrics", k), warnings);
        m.resource_attributes = resource;
        m.service_name = service_name_of(resource);
        m.scope_name = scope_name;
        out.push_back(std::move(m));
      }
    }
  }
  for (const auto& m : out) check_metric(m, "metric", warnings);
  return out;
}

// ------------------------------------------------------------------------------------------
// The HTTP server.

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return lower(t);
}

// google.rpc.Status { int32 code = 1; string message = 2; } -- the body OTLP/HTTP failures carry.
std::string status_protobuf(std::string_view message) {
  std::string out(1, '\x12');
  std::uint64_t n = message.size();
  do {
    unsigned char byte = n & 0x7f;
    n >>= 7;
    if (n) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (n);
  out.append(message);
  return out;
}

}  // namespace

struct OtlpReceiver::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;
  std::set<tcp::socket*> sockets;  // event-loop thread only

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<ReceivedSpan> spans;
  std::vector<ReceivedMetric> metrics;
  std::vector<std::string> errors;
  std::vector<ReceivedRequest> requests;
  std::atomic<bool> black_hole{false};
  std::atomic<unsigned> forced_status{0};

  using Request = bhttp::request<bhttp::string_body>;
  using Response = bhttp::response<bhttp::string_body>;

  void record_request(ReceivedRequest rr) {
    {
      std::lock_guard lock(mu);
      requests.push_back(std::move(rr));
    }
    cv.notify_all();
  }

  Response reply(const Request& req, unsigned status, const std::string& content_type,
                 std::string body) {
    Response res{static_cast<bhttp::status>(status), req.version()};
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }

  // Request in, response out: no I/O here.
  Response handle(const Request& req, ReceivedRequest& rr) {
    const std::string ctype = rr.content_type;
    const bool is_json = ctype == "application/json";
    const std::string label =
        rr.method + " " + rr.path + " (" + (ctype.empty() ? "no content-type" : ctype) + ")";
    auto fail = [&](unsigned status, const std::string& why) {
      {
        std::lock_guard lock(mu);
        errors.push_back(label + ": " + std::to_string(status) + " " + why);
      }
      if (is_json) {
        return reply(req, status, "application/json",
                     json::serialize(json::object{{"message", why}}));
      }
      return reply(req, status, "application/x-protobuf", status_protobuf(why));
    };

    const bool traces = rr.path == "/v1/traces";
    const bool metrics_path = rr.path == "/v1/metrics";
    if (!traces && !metrics_path) return fail(404, "unknown path");
    if (req.method() != bhttp::verb::post) {
      auto res = fail(405, "method not allowed");
      res.set(bhttp::field::allow, "POST");
      return res;
    }
    if (ctype != "application/x-protobuf" && !is_json) return fail(415, "unsupported content type");
    const auto encoding = lower(req[bhttp::field::content_encoding]);
    if (!encoding.empty() && encoding != "identity") {
      return fail(415, "unsupported Content-Encoding '" + encoding + "'");
    }
    if (const unsigned forced = forced_status.load(); forced != 0) {
      return is_json
                 ? reply(req, forced, "application/json", R"({"message":"forced by test"})")
                 : reply(req, forced, "application/x-protobuf", status_protobuf("forced by test"));
    }

    std::vector<std::string> warnings;
    std::vector<ReceivedSpan> new_spans;
    std::vector<ReceivedMetric> new_metrics;
    try {
      if (traces) {
        new_spans = is_json ? decode_traces_json(req.body(), warnings)
                            : decode_traces_protobuf(req.body(), warnings);
      } else {
        new_metrics = is_json ? decode_metrics_json(req.body(), warnings)
                              : decode_metrics_protobuf(req.body(), warnings);
      }
    } catch (const OtlpDecodeError& e) {
      return fail(400, e.what());
    }
    {
      std::lock_guard lock(mu);
      for (auto& w : warnings) errors.push_back(label + ": " + w);
      std::move(new_spans.begin(), new_spans.end(), std::back_inserter(spans));
      std::move(new_metrics.begin(), new_metrics.end(), std::back_inserter(metrics));
    }
    // An empty Export*ServiceResponse: zero bytes in protobuf, "{}" in JSON.
    return is_json ? reply(req, 200, "application/json", "{}")
                   : reply(req, 200, "application/x-protobuf", "");
  }

  asio::awaitable<void> session(tcp::socket socket) {
    sockets.insert(&socket);
    boost::beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(64ull << 20);
      // Keep-alive: one request after another on the same connection until the peer closes.
      auto [ec, n] = co_await bhttp::async_read(socket, buffer, parser, use_nothrow);
      if (ec) {
        if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
            ec != asio::error::connection_reset && ec != asio::error::eof) {
          std::lock_guard lock(mu);
          errors.push_back("malformed HTTP request: " + ec.message());
        }
        break;
      }
      Request req = parser.release();
      ReceivedRequest rr;
      rr.method = std::string(req.method_string());
      const std::string_view target = req.target();
      rr.path = std::string(target.substr(0, target.find('?')));
      rr.content_type = media_type(req[bhttp::field::content_type]);
      for (const auto& field : req) {
        auto [it, inserted] =
            rr.headers.emplace(lower(field.name_string()), std::string(field.value()));
        if (!inserted) (it->second += ", ").append(field.value());
      }
      rr.body_bytes = req.body().size();
      rr.body = req.body();
      if (black_hole.load()) {
        // A hung collector: the request was read, nothing is ever answered.
        record_request(std::move(rr));
        continue;
      }
      Response res = handle(req, rr);
      rr.status = res.result_int();
      record_request(std::move(rr));
      auto [wec, wn] = co_await bhttp::async_write(socket, res, use_nothrow);
      if (wec || res.need_eof()) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    sockets.erase(&socket);
  }

  // A coroutine that throws (a bug here) becomes an error the test sees, not a dead thread.
  void on_crash(std::exception_ptr e) {
    if (!e) return;
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    std::lock_guard lock(mu);
    errors.push_back("receiver internal error: " + what);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;  // e.g. EMFILE: keep serving what is open
      }
      asio::co_spawn(io, session(std::move(socket)), [this](std::exception_ptr e) { on_crash(e); });
    }
  }
};

OtlpReceiver::OtlpReceiver() : impl_(std::make_unique<Impl>()) {
  auto& im = *impl_;
  const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), 0);
  im.acceptor.open(ep.protocol());
  im.acceptor.set_option(tcp::acceptor::reuse_address(true));
  im.acceptor.bind(ep);
  im.acceptor.listen();
  im.port = im.acceptor.local_endpoint().port();
  asio::co_spawn(im.io, im.accept_loop(), [&im](std::exception_ptr e) { im.on_crash(e); });
  im.thread = std::thread([&im] { im.io.run(); });
}

OtlpReceiver::~OtlpReceiver() {
  auto& im = *impl_;
  // Closing the acceptor and every socket ends every coroutine; run() then returns by itself.
  asio::post(im.io, [&im] {
    boost::system::error_code ignored;
    im.acceptor.close(ignored);
    for (tcp::socket* s : im.sockets) s->close(ignored);
  });
  if (im.thread.joinable()) im.thread.join();
}

int OtlpReceiver::port() const { return impl_->port; }
std::string OtlpReceiver::base_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}
std::string OtlpReceiver::traces_endpoint() const { return base_endpoint() + "/v1/traces"; }
std::string OtlpReceiver::metrics_endpoint() const { return base_endpoint() + "/v1/metrics"; }

std::vector<ReceivedSpan> OtlpReceiver::spans() const {
  std::lock_guard lock(impl_->mu);
  return impl_->spans;
}

std::vector<ReceivedMetric> OtlpReceiver::metrics() const {
  std::lock_guard lock(impl_->mu);
  return impl_->metrics;
}

std::vector<std::string> OtlpReceiver::errors() const {
  std::lock_guard lock(impl_->mu);
  return impl_->errors;
}

std::vector<ReceivedRequest> OtlpReceiver::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

std::size_t OtlpReceiver::request_count(std::string_view path,
                                        std::string_view content_type) const {
  std::lock_guard lock(impl_->mu);
  return static_cast<std::size_t>(
      std::count_if(impl_->requests.begin(), impl_->requests.end(), [&](const ReceivedRequest& r) {
        return (path.empty() || r.path == path) &&
               (content_type.empty() || r.content_type == content_type);
      }));
}

void OtlpReceiver::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->spans.clear();
  impl_->metrics.clear();
  impl_->errors.clear();
  impl_->requests.clear();
}

bool OtlpReceiver::wait_for_spans(std::function<bool(const std::vector<ReceivedSpan>&)> pred,
                                  std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->spans); });
}

bool OtlpReceiver::wait_for_metrics(std::function<bool(const std::vector<ReceivedMetric>&)> pred,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->metrics); });
}

bool OtlpReceiver::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->requests.size() >= count; });
}

void OtlpReceiver::set_black_hole(bool on) { impl_->black_hole = on; }
void OtlpReceiver::set_forced_status(unsigned status) { impl_->forced_status = status; }

}  // namespace userservice::testing
