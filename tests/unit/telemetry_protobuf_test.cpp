#include "telemetry/protobuf_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using userservice::telemetry::hex_to_bytes;
using userservice::telemetry::ProtobufWriter;
using userservice::telemetry::varint_size;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

}  // namespace

// The examples of the protobuf encoding guide, computed by hand.
TEST(ProtobufWriter, VarintField) {
  ProtobufWriter w;
  w.varint_field(1, 150);
  EXPECT_EQ(w.data(), bytes({0x08, 0x96, 0x01}));
}

TEST(ProtobufWriter, StringField) {
  ProtobufWriter w;
  w.string_field(2, "testing");
  EXPECT_EQ(w.data(), bytes({0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}));
}

TEST(ProtobufWriter, NegativeInt64IsTenBytes) {
  ProtobufWriter w;
  w.int64_field(3, -1);
  EXPECT_EQ(w.data(), bytes({0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST(ProtobufWriter, FixedWidthFieldsAreLittleEndian) {
  ProtobufWriter w;
  w.fixed64_field(7, 0x0102030405060708ull);  // tag (7 << 3) | 1
  w.double_field(4, 1.0);                     // tag (4 << 3) | 1; 1.0 = 0x3FF0000000000000
  w.fixed32_field(16, 1);                     // tag (16 << 3) | 5 = 133: two-byte varint
  w.sfixed64_field(6, -2);
  // clang-format off
  EXPECT_EQ(w.data(), bytes({0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  //
                             0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,                    //
                             0x85, 0x01, 0x01, 0, 0, 0,                             //
                             0x31, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  // clang-format on
}

TEST(ProtobufWriter, BoolField) {
  ProtobufWriter w;
  w.bool_field(3, true);
  w.bool_field(2, false);
  EXPECT_EQ(w.data(), bytes({0x18, 0x01, 0x10, 0x00}));
}

TEST(ProtobufWriter, NestedMessageWithShortBody) {
  ProtobufWriter w;
  auto m = w.begin(3);
  w.varint_field(1, 150);
  w.end(m);
  EXPECT_EQ(w.data(), bytes({0x1a, 0x03, 0x08, 0x96, 0x01}));
}

TEST(ProtobufWriter, NestedMessageOf128BytesOrMoreWidensItsLength) {
  ProtobufWriter w;
  auto outer = w.begin(1);
  auto inner = w.begin(2);
  w.bytes_field(1, std::string(200, 'a'));  // 0x0a 0xc8 0x01 + 200 = 203 bytes
  w.end(inner);                             // 0x12 0xcb 0x01 + 203 = 206 bytes
  w.end(outer);                             // 0x0a 0xce 0x01 + 206
  const std::string& d = w.data();
  ASSERT_EQ(d.size(), 3u + 3u + 3u + 200u);
  EXPECT_EQ(d.substr(0, 9), bytes({0x0a, 0xce, 0x01, 0x12, 0xcb, 0x01, 0x0a, 0xc8, 0x01}));
  EXPECT_EQ(d.substr(9), std::string(200, 'a'));
}

TEST(ProtobufWriter, EmptyNestedMessage) {
  ProtobufWriter w;
  auto m = w.begin(1);
  w.end(m);
  w.varint_field(2, 1);
  EXPECT_EQ(w.data(), bytes({0x0a, 0x00, 0x10, 0x01}));
}

TEST(ProtobufWriter, PackedRepeatedFixed64AndDouble) {
  ProtobufWriter w;
  std::vector<std::uint64_t> counts{1, 2};
  std::vector<double> bounds{1.0};
  std::vector<double> none;
  w.packed_fixed64(6, counts);
  w.packed_double(7, bounds);
  w.packed_double(8, none);  // nothing at all
  // clang-format off
  EXPECT_EQ(w.data(), bytes({0x32, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,  //
                             0x3a, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
  // clang-format on
}

TEST(ProtobufWriter, VarintSize) {
  EXPECT_EQ(varint_size(0), 1u);
  EXPECT_EQ(varint_size(127), 1u);
  EXPECT_EQ(varint_size(128), 2u);
  EXPECT_EQ(varint_size(16383), 2u);
  EXPECT_EQ(varint_size(16384), 3u);
  EXPECT_EQ(varint_size(~0ull), 10u);
}

TEST(ProtobufWriter, HexToBytes) {
  std::string out;
  ASSERT_TRUE(hex_to_bytes("00ff10Ab", out));
  EXPECT_EQ(out, bytes({0x00, 0xff, 0x10, 0xab}));
  EXPECT_FALSE(hex_to_bytes("abc", out));
  EXPECT_FALSE(hex_to_bytes("zz", out));
  ASSERT_TRUE(hex_to_bytes("", out));
  EXPECT_TRUE(out.empty());
}
