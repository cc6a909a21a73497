#pragma once
// OTLP protobuf building blocks shared by the signals (otlp_traces.cpp, otlp_metrics.cpp):
// attributes, the resource and the instrumentation scope written with ProtobufWriter, and a
// minimal reader for the export responses. Internal to src/telemetry; the encoders are in otlp.h.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "telemetry/otlp.h"
#include "telemetry/protobuf_writer.h"

namespace userservice::telemetry::detail {

// KeyValue { key = 1; value = 2 (AnyValue); } as field `field`.
void pb_key_value(ProtobufWriter& w, std::uint32_t field, std::string_view key,
                  const AttributeValue& value);
// The same with a string value.
void pb_string_key_value(ProtobufWriter& w, std::uint32_t field, std::string_view key,
                         std::string_view value);
// Resource { attributes = 1; } as field `field`.
void pb_resource(ProtobufWriter& w, std::uint32_t field, const Resource& resource);
// InstrumentationScope { name = 1; } (kScopeName) as field `field`.
void pb_scope(ProtobufWriter& w, std::uint32_t field);

// Minimal protobuf reading (export responses only).
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

}  // namespace userservice::telemetry::detail
