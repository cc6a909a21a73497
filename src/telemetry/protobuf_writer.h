#pragma once
// Minimal protobuf wire-format writer for the OTLP encoders (no protoc, no libprotobuf).
//
//   ProtobufWriter w;
//   auto span = w.begin(2);        // nested message in field 2
//   w.string_field(5, "GET /x");
//   w.end(span);                   // writes the length prefix
//   std::string bytes = w.take();
//
// Nested messages get a one-byte length placeholder that end() widens when the body turns out
// to be 128 bytes or longer, so the output is always canonical (minimal varints), which keeps
// hand-computed test vectors and strict decoders happy.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace userservice::telemetry {

enum class WireType : std::uint32_t { varint = 0, i64 = 1, len = 2, i32 = 5 };

class ProtobufWriter {
 public:
  // Where a nested message started; pass it back to end().
  struct Mark {
    std::size_t length_at;
  };

  void tag(std::uint32_t field, WireType type);
  void varint(std::uint64_t value);

  // Fields (tag + value). Callers skip proto3 default values themselves where that is allowed;
  // members of a oneof must always be written.
  void varint_field(std::uint32_t field, std::uint64_t value);
  void int64_field(std::uint32_t field, std::int64_t value);  // int64: two's complement varint
  void bool_field(std::uint32_t field, bool value);
  void fixed64_field(std::uint32_t field, std::uint64_t value);
  void sfixed64_field(std::uint32_t field, std::int64_t value);
  void fixed32_field(std::uint32_t field, std::uint32_t value);
  void double_field(std::uint32_t field, double value);
  void bytes_field(std::uint32_t field, std::string_view value);
  void string_field(std::uint32_t field, std::string_view value) { bytes_field(field, value); }
  // Packed repeated scalars (one length-delimited field). Nothing is written for an empty list.
  void packed_fixed64(std::uint32_t field, std::span<const std::uint64_t> values);
  void packed_double(std::uint32_t field, std::span<const double> values);

  Mark begin(std::uint32_t field);
  void end(Mark mark);

  const std::string& data() const noexcept { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void raw_fixed64(std::uint64_t value);
  std::string out_;
};

// Number of bytes of `value` as a varint.
std::size_t varint_size(std::uint64_t value);

// Decodes a lowercase/uppercase hex string into bytes; false when `hex` is not valid hex of even
// length. Used for trace/span ids, which OTLP/protobuf carries as raw bytes.
bool hex_to_bytes(std::string_view hex, std::string& out);

}  // namespace userservice::telemetry
