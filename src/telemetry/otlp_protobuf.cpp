#include "telemetry/otlp_protobuf.h"

#include <string>
#include <type_traits>
#include <variant>

#include "common/utf8.h"

namespace userservice::telemetry::detail {

namespace {

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

}  // namespace

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

}  // namespace userservice::telemetry::detail
