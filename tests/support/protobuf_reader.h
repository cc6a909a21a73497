#pragma once
// A minimal protobuf wire-format reader for tests, written from the protobuf encoding
// specification (varint, I64, LEN, SGROUP/EGROUP, I32), deliberately independent of the
// service's OTLP encoder: a bug shared by encoder and decoder would go unnoticed.
//
// Every read is bounds-checked; malformed input throws pb::DecodeError, never crashes.
//
//   pb::Reader r(bytes);
//   pb::Field f;
//   while (r.next(f)) {
//     if (f.number == 5) name = f.string();        // LEN, checked UTF-8
//     else if (f.number == 7) start = f.fixed64();  // I64
//   }                                               // other fields: skipped, any wire type
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace userservice::testing::pb {

enum class WireType : std::uint8_t {
  varint = 0,
  i64 = 1,
  len = 2,
  sgroup = 3,
  egroup = 4,
  i32 = 5
};

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One field as read from the wire. Accessors check the wire type and throw DecodeError on a
// mismatch, so an encoder writing e.g. a fixed64 timestamp as a varint is caught.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t raw = 0;   // varint value, or the I64/I32 bits (little-endian decoded)
  std::string_view bytes;  // LEN payload, or a group's content (between its tags)

  std::uint64_t varint() const;   // uint64/uint32/int64/int32/enum/bool raw varint
  std::int64_t int64() const;     // int64 (two's complement varint)
  std::int32_t int32() const;     // int32/enum: the low 32 bits of the varint, sign-extended
  std::uint32_t uint32() const;   // uint32: rejects values above 2^32-1
  bool boolean() const;           // bool: rejects values other than 0 and 1
  std::uint64_t fixed64() const;  // fixed64
  std::int64_t sfixed64() const;  // sfixed64
  double dbl() const;             // double
  std::uint32_t fixed32() const;  // fixed32
  std::string_view len() const;   // bytes / embedded message
  std::string string() const;     // string: LEN that must be valid UTF-8
};

class Reader {
 public:
  // Keeps a view of `data`: the bytes must outlive the reader (temporaries are refused).
  explicit Reader(std::string_view data) : data_(data) {}
  explicit Reader(std::string&&) = delete;
  // Reads the next field; false at the clean end of the buffer. Groups are returned whole (their
  // content in `bytes`), nested groups included. Throws DecodeError on: a truncated varint or
  // value, a varint over 10 bytes, field number 0 or above 2^29-1, wire type 6/7, a length past
  // the end, an end-group without its start-group, or nesting deeper than 64.
  bool next(Field& out);
  std::size_t position() const { return pos_; }

 private:
  std::uint64_t read_varint();
  std::string_view take(std::size_t n);

  std::string_view data_;
  std::size_t pos_ = 0;
};

// Varint of `data` as a whole (throws unless exactly one varint fills it). Exposed for tests.
std::uint64_t decode_varint(std::string_view data);

// Repeated scalars: protobuf parsers must accept both packed (one LEN field) and unpacked
// (one field per element) encodings; these append `f` to `out` either way.
void append_fixed64(const Field& f, std::vector<std::uint64_t>& out);
void append_double(const Field& f, std::vector<double>& out);

bool valid_utf8(std::string_view s);
std::string to_hex(std::string_view bytes);  // lowercase

}  // namespace userservice::testing::pb
