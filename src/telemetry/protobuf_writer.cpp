#include "telemetry/protobuf_writer.h"

#include <bit>
#include <cstring>

namespace userservice::telemetry {

std::size_t varint_size(std::uint64_t value) {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

void ProtobufWriter::varint(std::uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void ProtobufWriter::tag(std::uint32_t field, WireType type) {
  varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint32_t>(type));
}

void ProtobufWriter::raw_fixed64(std::uint64_t value) {
  // Little-endian regardless of the host.
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void ProtobufWriter::varint_field(std::uint32_t field, std::uint64_t value) {
  tag(field, WireType::varint);
  varint(value);
}

void ProtobufWriter::int64_field(std::uint32_t field, std::int64_t value) {
  varint_field(field, static_cast<std::uint64_t>(value));
}

void ProtobufWriter::bool_field(std::uint32_t field, bool value) {
  varint_field(field, value ? 1 : 0);
}

void ProtobufWriter::fixed64_field(std::uint32_t field, std::uint64_t value) {
  tag(field, WireType::i64);
  raw_fixed64(value);
}

void ProtobufWriter::sfixed64_field(std::uint32_t field, std::int64_t value) {
  fixed64_field(field, static_cast<std::uint64_t>(value));
}

void ProtobufWriter::fixed32_field(std::uint32_t field, std::uint32_t value) {
  tag(field, WireType::i32);
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void ProtobufWriter::double_field(std::uint32_t field, double value) {
  fixed64_field(field, std::bit_cast<std::uint64_t>(value));
}

void ProtobufWriter::bytes_field(std::uint32_t field, std::string_view value) {
  tag(field, WireType::len);
  varint(value.size());
  out_.append(value.data(), value.size());
}

void ProtobufWriter::packed_fixed64(std::uint32_t field, std::span<const std::uint64_t> values) {
  if (values.empty()) return;
  tag(field, WireType::len);
  varint(values.size() * 8);
  for (std::uint64_t v : values) raw_fixed64(v);
}

void ProtobufWriter::packed_double(std::uint32_t field, std::span<const double> values) {
  if (values.empty()) return;
  tag(field, WireType::len);
  varint(values.size() * 8);
  for (double v : values) raw_fixed64(std::bit_cast<std::uint64_t>(v));
}

ProtobufWriter::Mark ProtobufWriter::begin(std::uint32_t field) {
  tag(field, WireType::len);
  Mark m{out_.size()};
  out_.push_back('\0');  // placeholder for a length below 128
  return m;
}

void ProtobufWriter::end(Mark mark) {
  const std::size_t body_start = mark.length_at + 1;
  const std::size_t length = out_.size() - body_start;
  const std::size_t width = varint_size(length);
  if (width > 1) out_.insert(body_start, width - 1, '\0');  // shift the body right
  std::size_t at = mark.length_at;
  std::uint64_t v = length;
  while (v >= 0x80) {
    out_[at++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out_[at] = static_cast<char>(v);
}

bool hex_to_bytes(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return true;
}

}  // namespace userservice::telemetry
