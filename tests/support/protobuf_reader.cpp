#include "support/protobuf_reader.h"

#include <bit>
#include <cstring>
#include <limits>

namespace userservice::testing::pb {

namespace {

constexpr std::uint32_t kMaxFieldNumber = (1u << 29) - 1;
constexpr int kMaxGroupDepth = 64;

const char* wire_name(WireType t) {
  switch (t) {
    case WireType::varint:
      return "VARINT";
    case WireType::i64:
      return "I64";
    case WireType::len:
      return "LEN";
    case WireType::sgroup:
      return "SGROUP";
    case WireType::egroup:
      return "EGROUP";
    case WireType::i32:
      return "I32";
  }
  return "?";
}

void expect(const Field& f, WireType t) {
  if (f.type != t) {
    throw DecodeError("field " + std::to_string(f.number) + ": wire type " + wire_name(f.type) +
                      ", expected " + wire_name(t));
  }
}

std::uint64_t load_le(std::string_view b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
  }
  return v;
}

}  // namespace

std::uint64_t Field::varint() const {
  expect(*this, WireType::varint);
  return raw;
}

std::int64_t Field::int64() const { return static_cast<std::int64_t>(varint()); }

std::int32_t Field::int32() const {
  // Negative int32 values are sign-extended to 64 bits on the wire; parsers keep the low 32.
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(varint() & 0xffffffffu));
}

std::uint32_t Field::uint32() const {
  const std::uint64_t v = varint();
  if (v > std::numeric_limits<std::uint32_t>::max()) {
    throw DecodeError("field " + std::to_string(number) + ": uint32 out of range");
  }
  return static_cast<std::uint32_t>(v);
}

bool Field::boolean() const {
  const std::uint64_t v = varint();
  if (v > 1) throw DecodeError("field " + std::to_string(number) + ": bool is neither 0 nor 1");
  return v == 1;
}

std::uint64_t Field::fixed64() const {
  expect(*this, WireType::i64);
  return raw;
}

std::int64_t Field::sfixed64() const { return static_cast<std::int64_t>(fixed64()); }

double Field::dbl() const { return std::bit_cast<double>(fixed64()); }

std::uint32_t Field::fixed32() const {
  expect(*this, WireType::i32);
  return static_cast<std::uint32_t>(raw);
}

std::string_view Field::len() const {
  expect(*this, WireType::len);
  return bytes;
}

std::string Field::string() const {
  std::string_view s = len();
  if (!valid_utf8(s)) {
    throw DecodeError("field " + std::to_string(number) + ": string is not valid UTF-8");
  }
  return std::string(s);
}

std::string_view Reader::take(std::size_t n) {
  if (n > data_.size() - pos_) {
    throw DecodeError("truncated: need " + std::to_string(n) + " bytes at offset " +
                      std::to_string(pos_) + ", have " + std::to_string(data_.size() - pos_));
  }
  std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

std::uint64_t Reader::read_varint() {
  std::uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= data_.size())
      throw DecodeError("truncated varint at offset " + std::to_string(pos_));
    const auto byte = static_cast<unsigned char>(data_[pos_++]);
    // The 10th byte may only carry bit 63.
    if (i == 9 && byte > 1) throw DecodeError("varint overflows 64 bits");
    v |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return v;
  }
  throw DecodeError("varint longer than 10 bytes");
}

bool Reader::next(Field& out) {
  if (pos_ >= data_.size()) return false;
  const std::uint64_t tag = read_varint();
  const std::uint64_t number = tag >> 3;
  const auto wire = static_cast<unsigned>(tag & 7);
  if (number == 0 || number > kMaxFieldNumber) {
    throw DecodeError("invalid field number " + std::to_string(number));
  }
  out = Field{};
  out.number = static_cast<std::uint32_t>(number);
  switch (wire) {
    case 0:
      out.type = WireType::varint;
      out.raw = read_varint();
      return true;
    case 1:
      out.type = WireType::i64;
      out.raw = load_le(take(8));
      return true;
    case 2: {
      out.type = WireType::len;
      const std::uint64_t n = read_varint();
      if (n > data_.size() - pos_) {
        throw DecodeError("field " + std::to_string(number) + ": length " + std::to_string(n) +
                          " past the end");
      }
      out.bytes = take(static_cast<std::size_t>(n));
      return true;
    }
    case 3: {
      // A group runs to the EGROUP tag with the same number; nested groups are skipped whole.
      out.type = WireType::sgroup;
      const std::size_t begin = pos_;
      std::vector<std::uint64_t> open{number};
      while (!open.empty()) {
        if (pos_ >= data_.size()) throw DecodeError("unterminated group " + std::to_string(number));
        const std::size_t before = pos_;
        const std::uint64_t inner_tag = read_varint();
        const std::uint64_t inner_number = inner_tag >> 3;
        const auto inner_wire = static_cast<unsigned>(inner_tag & 7);
        if (inner_number == 0 || inner_number > kMaxFieldNumber) {
          throw DecodeError("invalid field number " + std::to_string(inner_number));
        }
        switch (inner_wire) {
          case 0:
            read_varint();
            break;
          case 1:
            take(8);
            break;
          case 2: {
            const std::uint64_t n = read_varint();
            if (n > data_.size() - pos_) throw DecodeError("length past the end inside a group");
            take(static_cast<std::size_t>(n));
            break;
          }
          case 3:
            if (open.size() >= kMaxGroupDepth) throw DecodeError("groups nested too deep");
            open.push_back(inner_number);
            break;
          case 4:
            if (inner_number != open.back()) throw DecodeError("mismatched end-group");
            open.pop_back();
            if (open.empty()) out.bytes = data_.substr(begin, before - begin);
            break;
          case 5:
            take(4);
            break;
          default:
            throw DecodeError("invalid wire type " + std::to_string(inner_wire));
        }
      }
      return true;
    }
    case 4:
      throw DecodeError("end-group without start-group (field " + std::to_string(number) + ")");
    case 5:
      out.type = WireType::i32;
      out.raw = load_le(take(4));
      return true;
    default:
      throw DecodeError("invalid wire type " + std::to_string(wire) + " (field " +
                        std::to_string(number) + ")");
  }
}

std::uint64_t decode_varint(std::string_view data) {
  // A tag-less varint: reuse the reader on a synthetic field 1 VARINT.
  std::string framed(1, '\x08');
  framed.append(data);
  Reader r(framed);
  Field f;
  r.next(f);
  if (r.position() != framed.size()) throw DecodeError("trailing bytes after varint");
  return f.raw;
}

void append_fixed64(const Field& f, std::vector<std::uint64_t>& out) {
  if (f.type == WireType::i64) {
    out.push_back(f.raw);
    return;
  }
  std::string_view packed = f.len();
  if (packed.size() % 8 != 0) {
    throw DecodeError("field " + std::to_string(f.number) + ": packed fixed64 length " +
                      std::to_string(packed.size()) + " is not a multiple of 8");
  }
  for (std::size_t i = 0; i < packed.size(); i += 8) out.push_back(load_le(packed.substr(i, 8)));
}

void append_double(const Field& f, std::vector<double>& out) {
  std::vector<std::uint64_t> bits;
  append_fixed64(f, bits);
  for (std::uint64_t b : bits) out.push_back(std::bit_cast<double>(b));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

}  // namespace userservice::testing::pb
