#include "telemetry/otlp.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <charconv>

#include "telemetry/otlp_protobuf.h"

// What every signal shares: the resource, and the partial success of an export response.
// The signals are in otlp_traces.cpp and otlp_metrics.cpp, the encodings' building blocks in
// otlp_json.cpp and otlp_protobuf.cpp.
namespace userservice::telemetry {

namespace {

// Random (version 4) UUID, lower-case 8-4-4-4-12.
std::string random_uuid() { return boost::uuids::to_string(boost::uuids::random_generator()()); }

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
  detail::PbReader r{body};
  std::optional<PartialSuccess> out;
  while (!r.done()) {
    std::uint32_t field = 0, type = 0;
    std::uint64_t value = 0;
    std::string_view bytes;
    if (!r.next(field, type, value, bytes)) return std::nullopt;
    if (field != 1 || type != 2) continue;
    PartialSuccess ps;
    detail::PbReader inner{bytes};
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

}  // namespace userservice::telemetry
