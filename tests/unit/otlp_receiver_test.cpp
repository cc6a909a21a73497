// The test-side OTLP collector: its protobuf reader and decoders on hand-built bytes, its JSON
// decoder on the examples of opentelemetry-proto, and the HTTP receiver end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "support/http_client.h"
#include "support/otlp_receiver.h"
#include "support/protobuf_reader.h"

using namespace userservice::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

// A hand-rolled protobuf writer for building test inputs, written here (not shared with the
// service's encoder) from the wire-format rules.
struct Pb {
  std::string out;
  Pb& raw_varint(std::uint64_t v) {
    do {
      unsigned char b = v & 0x7f;
      v >>= 7;
      if (v) b |= 0x80;
      out += static_cast<char>(b);
    } while (v);
    return *this;
  }
  Pb& tag(std::uint32_t field, int wire) {
    return raw_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<unsigned>(wire));
  }
  Pb& varint(std::uint32_t f, std::uint64_t v) { return tag(f, 0).raw_varint(v); }
  Pb& fixed64(std::uint32_t f, std::uint64_t v) {
    tag(f, 1);
    for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return *this;
  }
  Pb& dbl(std::uint32_t f, double d) { return fixed64(f, std::bit_cast<std::uint64_t>(d)); }
  Pb& fixed32(std::uint32_t f, std::uint32_t v) {
    tag(f, 5);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return *this;
  }
  Pb& bytes(std::uint32_t f, std::string_view b) {
    tag(f, 2).raw_varint(b.size());
    out.append(b);
    return *this;
  }
  Pb& msg(std::uint32_t f, const Pb& m) { return bytes(f, m.out); }
};

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

Pb key_value(std::string_view key, const Pb& any) { return Pb().bytes(1, key).msg(2, any); }
Pb str_value(std::string_view s) { return Pb().bytes(1, s); }

const std::string kTraceId = unhex("5b8efff798038103d269b633813fc60c");
const std::string kSpanId = unhex("eee19b7ec3c1b174");
const std::string kParentId = unhex("eee19b7ec3c1b173");

// A span with every field the service sets.
Pb full_span() {
  Pb span;
  span.bytes(1, kTraceId)
      .bytes(2, kSpanId)
      .bytes(3, "vendor=1")
      .bytes(4, kParentId)
      .fixed32(16, 0x301)
      .bytes(5, "GET /api/v1/internal/users/{user_id}")
      .varint(6, 2)
      .fixed64(7, 1544712660000000000ull)
      .fixed64(8, 1544712661000000000ull)
      .msg(9, key_value("http.request.method", str_value("GET")))
      .msg(9, key_value("http.response.status_code", Pb().varint(3, 200)))
      .msg(9, key_value("negative", Pb().varint(3, static_cast<std::uint64_t>(-5))))
      .msg(9, key_value("ratio", Pb().dbl(4, 0.25)))
      .msg(9, key_value("ok", Pb().varint(2, 1)))
      .msg(9, key_value("list", Pb().msg(5, Pb().msg(1, str_value("a")).msg(1, Pb().varint(3, 1)))))
      .msg(9, key_value("map", Pb().msg(6, Pb().msg(1, key_value("k", str_value("v"))))))
      .msg(9, key_value("raw", Pb().bytes(7, "\x01\x02")))
      .varint(10, 0)
      .msg(11, Pb().fixed64(1, 5).bytes(2, "event"))
      .msg(15, Pb().bytes(2, "boom").varint(3, 2));
  return span;
}

Pb traces_request(const Pb& span) {
  Pb resource = Pb().msg(1, key_value("service.name", str_value("userservice")));
  Pb scope = Pb().bytes(1, "userservice/http").bytes(2, "1.0");
  Pb scope_spans = Pb().msg(1, scope).msg(2, span).bytes(3, "https://schema");
  return Pb().msg(1, Pb().msg(1, resource).msg(2, scope_spans));
}

std::vector<ReceivedSpan> decode_pb(const std::string& body,
                                    std::vector<std::string>* w = nullptr) {
  std::vector<std::string> warnings;
  auto spans = decode_traces_protobuf(body, warnings);
  if (w) *w = warnings;
  return spans;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// The wire-format reader.

TEST(ProtobufReader, Varints) {
  EXPECT_EQ(pb::decode_varint(unhex("9601")), 150u);
  EXPECT_EQ(pb::decode_varint(unhex("00")), 0u);
  EXPECT_EQ(pb::decode_varint(unhex("ffffffffffffffffff01")), ~0ull);
  EXPECT_THROW(pb::decode_varint(unhex("ffffffffffffffffff02")), pb::DecodeError);    // > 64 bits
  EXPECT_THROW(pb::decode_varint(unhex("ffffffffffffffffffff01")), pb::DecodeError);  // 11 bytes
  EXPECT_THROW(pb::decode_varint(unhex("96")), pb::DecodeError);                      // truncated
  EXPECT_THROW(pb::decode_varint(""), pb::DecodeError);
}

TEST(ProtobufReader, ReadsEveryWireType) {
  // 08 96 01: field 1 varint 150; 12 07 "testing": field 2 LEN; 19 + 8: field 3 I64;
  // 25 + 4: field 4 I32; 2b 08 01 2c: field 5 group holding field 1 = 1.
  const std::string bytes = unhex("089601") + unhex("1207") + "testing" +
                            unhex("190100000000000080") + unhex("25ffffffff") + unhex("2b08012c");
  pb::Reader r(bytes);
  pb::Field f;
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.varint(), 150u);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.string(), "testing");
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.fixed64(), 0x8000000000000001ull);
  EXPECT_EQ(f.sfixed64(), static_cast<std::int64_t>(0x8000000000000001ull));
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.fixed32(), 0xffffffffu);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.type, pb::WireType::sgroup);
  EXPECT_EQ(f.bytes, unhex("0801"));
  EXPECT_FALSE(r.next(f));
}

TEST(ProtobufReader, AccessorsCheckTheWireType) {
  const std::string bytes = unhex("089601");  // the reader keeps a view: the bytes must outlive it
  pb::Reader r(bytes);
  pb::Field f;
  ASSERT_TRUE(r.next(f));
  EXPECT_THROW(f.fixed64(), pb::DecodeError);
  EXPECT_THROW(f.len(), pb::DecodeError);
  EXPECT_THROW(f.fixed32(), pb::DecodeError);
  EXPECT_THROW(f.boolean(), pb::DecodeError);  // 150 is not a bool
}

TEST(ProtobufReader, RejectsMalformedInput) {
  auto read_all = [](const std::string& bytes) {
    pb::Reader r(bytes);
    pb::Field f;
    while (r.next(f)) {
    }
  };
  EXPECT_THROW(read_all(unhex("0096")), pb::DecodeError);          // field number 0
  EXPECT_THROW(read_all(unhex("0e00")), pb::DecodeError);          // wire type 6
  EXPECT_THROW(read_all(unhex("0f00")), pb::DecodeError);          // wire type 7
  EXPECT_THROW(read_all(unhex("0c")), pb::DecodeError);            // end-group alone
  EXPECT_THROW(read_all(unhex("0b0801")), pb::DecodeError);        // unterminated group
  EXPECT_THROW(read_all(unhex("0b08011c")), pb::DecodeError);      // group ends with field 3
  EXPECT_THROW(read_all(unhex("0a05616263")), pb::DecodeError);    // length past the end
  EXPECT_THROW(read_all(unhex("0a8080808010")), pb::DecodeError);  // huge length
  EXPECT_THROW(read_all(unhex("09010203")), pb::DecodeError);      // I64 truncated
  EXPECT_THROW(read_all(unhex("0d0102")), pb::DecodeError);        // I32 truncated
  EXPECT_THROW(read_all(unhex("08")), pb::DecodeError);            // varint value missing
  const std::string bad_utf8 = unhex("0a02c328");
  pb::Reader r(bad_utf8);
  pb::Field f;
  ASSERT_TRUE(r.next(f));
  EXPECT_THROW(f.string(), pb::DecodeError);
}

TEST(ProtobufReader, PackedAndUnpackedRepeatedScalars) {
  std::vector<std::uint64_t> counts;
  std::vector<double> bounds;
  Pb packed_counts;
  packed_counts.bytes(6, Pb().fixed64(1, 1).out.substr(1) + Pb().fixed64(1, 2).out.substr(1));
  const std::string bytes = packed_counts.out + Pb().fixed64(6, 3).out + Pb().dbl(7, 0.5).out;
  pb::Reader r(bytes);
  pb::Field f;
  ASSERT_TRUE(r.next(f));
  pb::append_fixed64(f, counts);
  ASSERT_TRUE(r.next(f));
  pb::append_fixed64(f, counts);
  ASSERT_TRUE(r.next(f));
  pb::append_double(f, bounds);
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(bounds, (std::vector<double>{0.5}));
  const std::string odd = Pb().bytes(6, "1234567").out;  // not a multiple of 8
  pb::Reader bad(odd);
  ASSERT_TRUE(bad.next(f));
  EXPECT_THROW(pb::append_fixed64(f, counts), pb::DecodeError);
}

// ------------------------------------------------------------------------------------------
// Traces, protobuf.

TEST(OtlpTracesProtobuf, HandWrittenBytes) {
  // ExportTraceServiceRequest{resource_spans{scope_spans{spans{trace_id span_id name="x"
  // kind=2 start=1 end=2}}}}, lengths counted by hand: span 0x33, scope_spans 0x35,
  // resource_spans 0x37.
  const std::string body = unhex(
                               "0a37"
                               "1235"
                               "1233") +
                           unhex("0a10") + kTraceId + unhex("1208") + kSpanId +
                           unhex(
                               "2a0178"
                               "3002") +
                           unhex(
                               "390100000000000000"
                               "410200000000000000");
  std::vector<std::string> warnings;
  auto spans = decode_pb(body, &warnings);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(spans[0].span_id, "eee19b7ec3c1b174");
  EXPECT_EQ(spans[0].parent_span_id, "");
  EXPECT_EQ(spans[0].name, "x");
  EXPECT_EQ(spans[0].kind, 2);
  EXPECT_EQ(spans[0].start_unix_nano, 1u);
  EXPECT_EQ(spans[0].end_unix_nano, 2u);
  EXPECT_EQ(spans[0].encoding, "protobuf");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(OtlpTracesProtobuf, EveryField) {
  std::vector<std::string> warnings;
  auto spans = decode_pb(traces_request(full_span()).out, &warnings);
  ASSERT_EQ(spans.size(), 1u);
  const ReceivedSpan& s = spans[0];
  EXPECT_EQ(s.service_name, "userservice");
  EXPECT_EQ(s.scope_name, "userservice/http");
  EXPECT_EQ(s.scope_version, "1.0");
  EXPECT_EQ(s.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(s.parent_span_id, "eee19b7ec3c1b173");
  EXPECT_EQ(s.trace_state, "vendor=1");
  EXPECT_EQ(s.flags, 0x301u);
  EXPECT_EQ(s.name, "GET /api/v1/internal/users/{user_id}");
  EXPECT_EQ(s.start_unix_nano, 1544712660000000000ull);
  EXPECT_EQ(s.end_unix_nano, 1544712661000000000ull);
  EXPECT_EQ(s.status_code, 2);
  EXPECT_EQ(s.status_message, "boom");
  EXPECT_EQ(s.events, 1u);
  EXPECT_EQ(s.attribute("http.request.method"), OtlpValue(std::string("GET")));
  EXPECT_EQ(s.attribute("http.response.status_code"), OtlpValue(std::int64_t{200}));
  EXPECT_EQ(s.attribute("negative"), OtlpValue(std::int64_t{-5}));
  EXPECT_EQ(s.attribute("ratio"), OtlpValue(0.25));
  EXPECT_EQ(s.attribute("ok"), OtlpValue(true));
  EXPECT_EQ(s.attribute("list"), OtlpValue(std::string(R"(["a",1])")));
  EXPECT_EQ(s.attribute("map"), OtlpValue(std::string(R"({"k":"v"})")));
  EXPECT_EQ(s.attribute("raw"), OtlpValue(std::string(R"("base64:AQI=")")));
  EXPECT_EQ(s.attribute("absent"), std::nullopt);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(OtlpTracesProtobuf, ResourceAfterScopeSpansStillApplies) {
  Pb scope_spans = Pb().msg(2, full_span());
  Pb resource = Pb().msg(1, key_value("service.name", str_value("late")));
  auto spans = decode_pb(Pb().msg(1, Pb().msg(2, scope_spans).msg(1, resource)).out);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].service_name, "late");
}

TEST(OtlpTracesProtobuf, SkipsUnknownFieldsOfEveryWireType) {
  Pb span = full_span();
  span.varint(100, 7)
      .fixed64(101, 7)
      .bytes(102, "junk")
      .tag(103, 3)
      .varint(1, 1)
      .tag(104, 3)
      .bytes(2, "nested")
      .tag(104, 4)
      .tag(103, 4)
      .fixed32(105, 7);
  Pb request = traces_request(span);
  request.varint(50, 1);  // unknown top-level field too
  std::vector<std::string> warnings;
  auto spans = decode_pb(request.out, &warnings);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, "GET /api/v1/internal/users/{user_id}");
  EXPECT_EQ(spans[0].status_code, 2);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(OtlpTracesProtobuf, WrongWireTypeOfAKnownFieldIsAnError) {
  // start_time_unix_nano must be fixed64: a varint there is an encoder bug.
  Pb span = Pb().bytes(1, kTraceId).bytes(2, kSpanId).bytes(5, "x").varint(7, 1);
  std::vector<std::string> w;
  EXPECT_THROW(decode_traces_protobuf(traces_request(span).out, w), OtlpDecodeError);
  Pb kind_as_fixed = Pb().bytes(1, kTraceId).fixed64(6, 2);
  EXPECT_THROW(decode_traces_protobuf(traces_request(kind_as_fixed).out, w), OtlpDecodeError);
}

TEST(OtlpTracesProtobuf, IdsOfTheWrongSizeAreErrors) {
  std::vector<std::string> w;
  EXPECT_THROW(decode_traces_protobuf(traces_request(Pb().bytes(1, kSpanId)).out, w),
               OtlpDecodeError);
  EXPECT_THROW(decode_traces_protobuf(traces_request(Pb().bytes(2, kTraceId)).out, w),
               OtlpDecodeError);
  try {
    decode_traces_protobuf(traces_request(Pb().bytes(4, "abc")).out, w);
    FAIL() << "no error";
  } catch (const OtlpDecodeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("parent_span_id has 3 bytes"));
  }
}

TEST(OtlpTracesProtobuf, SuspiciousButValidDataIsWarned) {
  Pb span = Pb().bytes(1, std::string(16, '\0'))
                .bytes(2, kSpanId)
                .varint(6, 0)
                .fixed64(7, 10)
                .fixed64(8, 5)
                .msg(9, key_value("dup", str_value("a")))
                .msg(9, key_value("dup", str_value("b")))
                .msg(9, key_value("empty", Pb()));
  std::vector<std::string> w;
  auto spans = decode_traces_protobuf(traces_request(span).out, w);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].attribute("dup"), OtlpValue(std::string("b")));
  const std::string all = ::testing::PrintToString(w);
  EXPECT_THAT(all, HasSubstr("trace id"));
  EXPECT_THAT(all, HasSubstr("without a name"));
  EXPECT_THAT(all, HasSubstr("span kind 0"));
  EXPECT_THAT(all, HasSubstr("end time before start"));
  EXPECT_THAT(all, HasSubstr("duplicate attribute key 'dup'"));
  EXPECT_THAT(all, HasSubstr("'empty' has no value"));
}

TEST(OtlpTracesProtobuf, EveryTruncationIsAnErrorOrAPrefixNeverACrash) {
  const std::string body = traces_request(full_span()).out;
  for (std::size_t n = 0; n < body.size(); ++n) {
    std::vector<std::string> w;
    try {
      decode_traces_protobuf(std::string_view(body).substr(0, n), w);
    } catch (const OtlpDecodeError&) {
    }
  }
  // Cutting inside the outer message is always detected (its length says more is coming).
  std::vector<std::string> w;
  EXPECT_THROW(decode_traces_protobuf(std::string_view(body).substr(0, body.size() - 1), w),
               OtlpDecodeError);
}

TEST(OtlpTracesProtobuf, GarbageNeverCrashes) {
  std::mt19937 rng(7);
  const std::string valid = traces_request(full_span()).out;
  for (int round = 0; round < 3000; ++round) {
    std::string body = valid;
    // Flip a few bytes of a valid message, or use random bytes outright.
    if (round % 3 == 0) {
      body.resize(rng() % 64);
      for (char& c : body) c = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 1 + round % 4; ++k) body[rng() % body.size()] = static_cast<char>(rng());
    }
    std::vector<std::string> w;
    try {
      decode_traces_protobuf(body, w);
      decode_metrics_protobuf(body, w);
    } catch (const OtlpDecodeError&) {
    }
  }
}

// ------------------------------------------------------------------------------------------
// Metrics, protobuf.

TEST(OtlpMetricsProtobuf, GaugeSumHistogram) {
  Pb attr = key_value("route", str_value("/x"));
  Pb gauge =
      Pb().msg(1, Pb().msg(7, attr).fixed64(3, 99).fixed64(6, static_cast<std::uint64_t>(-3)));
  Pb sum = Pb().msg(1, Pb().fixed64(2, 1).fixed64(3, 2).dbl(4, 5.5)).varint(2, 2).varint(3, 1);
  std::string packed_counts, packed_bounds;
  for (std::uint64_t c : {1, 2, 3}) packed_counts += Pb().fixed64(1, c).out.substr(1);
  for (double b : {0.1, 1.0}) packed_bounds += Pb().dbl(1, b).out.substr(1);
  Pb hist = Pb().msg(1, Pb().msg(9, attr)
                            .fixed64(3, 7)
                            .fixed64(4, 6)
                            .dbl(5, 2.5)
                            .bytes(6, packed_counts)
                            .bytes(7, packed_bounds)
                            .dbl(11, 0.05)
                            .dbl(12, 1.5)
                            .varint(10, 0))
                .varint(2, 2);
  Pb scope_metrics = Pb().msg(1, Pb().bytes(1, "userservice"))
                         .msg(2, Pb().bytes(1, "g").bytes(3, "1").msg(5, gauge))
                         .msg(2, Pb().bytes(1, "s").bytes(2, "a sum").msg(7, sum))
                         .msg(2, Pb().bytes(1, "h").bytes(3, "s").msg(9, hist));
  Pb request = Pb().msg(
      1,
      Pb().msg(1, Pb().msg(1, key_value("service.name", str_value("svc")))).msg(2, scope_metrics));
  std::vector<std::string> w;
  auto metrics = decode_metrics_protobuf(request.out, w);
  EXPECT_THAT(w, IsEmpty());
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].type, "gauge");
  EXPECT_EQ(metrics[0].unit, "1");
  EXPECT_EQ(metrics[0].service_name, "svc");
  EXPECT_EQ(metrics[0].scope_name, "userservice");
  ASSERT_EQ(metrics[0].points.size(), 1u);
  EXPECT_EQ(metrics[0].points[0].as_int, -3);
  EXPECT_EQ(metrics[0].points[0].value(), -3.0);
  EXPECT_EQ(std::get<std::string>(metrics[0].points[0].attributes.at("route")), "/x");
  EXPECT_EQ(metrics[1].type, "sum");
  EXPECT_EQ(metrics[1].description, "a sum");
  EXPECT_TRUE(metrics[1].monotonic);
  EXPECT_EQ(metrics[1].temporality, 2);
  EXPECT_EQ(metrics[1].points[0].as_double, 5.5);
  EXPECT_EQ(metrics[1].points[0].start_unix_nano, 1u);
  const ReceivedMetric& h = metrics[2];
  EXPECT_EQ(h.type, "histogram");
  ASSERT_EQ(h.points.size(), 1u);
  EXPECT_EQ(h.points[0].count, 6u);
  EXPECT_EQ(h.points[0].sum, 2.5);
  EXPECT_EQ(h.points[0].bucket_counts, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(h.points[0].explicit_bounds, (std::vector<double>{0.1, 1.0}));
  EXPECT_EQ(h.points[0].min, 0.05);
  EXPECT_EQ(h.points[0].max, 1.5);
}

TEST(OtlpMetricsProtobuf, InconsistentHistogramIsWarned) {
  Pb hist = Pb().msg(1, Pb().fixed64(3, 7).fixed64(4, 5).fixed64(6, 1).fixed64(6, 2)).varint(2, 2);
  Pb request = Pb().msg(1, Pb().msg(2, Pb().msg(2, Pb().bytes(1, "h").msg(9, hist))));
  std::vector<std::string> w;
  decode_metrics_protobuf(request.out, w);
  const std::string all = ::testing::PrintToString(w);
  EXPECT_THAT(all, HasSubstr("2 bucket counts for 0 bounds"));
  EXPECT_THAT(all, HasSubstr("add up to 3, count is 5"));
}

// ------------------------------------------------------------------------------------------
// JSON.

// opentelemetry-proto examples/trace.json, as published (upper-case hex, int64 as numbers).
constexpr std::string_view kTraceJson = R"({
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": 1544712660000000000,
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
      }]
    }]
  }]
})";

TEST(OtlpJson, SpecTraceExample) {
  std::vector<std::string> w;
  auto spans = decode_traces_json(kTraceJson, w);
  EXPECT_THAT(w, IsEmpty());
  ASSERT_EQ(spans.size(), 1u);
  const auto& s = spans[0];
  EXPECT_EQ(s.service_name, "my.service");
  EXPECT_EQ(s.scope_name, "my.library");
  EXPECT_EQ(s.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(s.span_id, "eee19b7ec3c1b174");
  EXPECT_EQ(s.parent_span_id, "eee19b7ec3c1b173");
  EXPECT_EQ(s.name, "I'm a server span");
  EXPECT_EQ(s.kind, 2);
  EXPECT_EQ(s.start_unix_nano, 1544712660000000000ull);
  EXPECT_EQ(s.end_unix_nano, 1544712661000000000ull);
  EXPECT_EQ(s.attribute("my.span.attr"), OtlpValue(std::string("some value")));
  EXPECT_EQ(s.encoding, "json");
}

TEST(OtlpJson, Int64AsStringsAndEveryValueType) {
  constexpr std::string_view body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
    "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"n","kind":3,
    "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
    "flags":257,"status":{"code":2,"message":"bad"},"unknownField":{"x":1},
    "attributes":[
      {"key":"i","value":{"intValue":"-9223372036854775808"}},
      {"key":"j","value":{"intValue":42}},
      {"key":"d","value":{"doubleValue":"NaN"}},
      {"key":"b","value":{"boolValue":false}},
      {"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"},{"boolValue":true}]}}},
      {"key":"kv","value":{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"1"}}]}}},
      {"key":"raw","value":{"bytesValue":"AQI="}}]}]}]}]})";
  std::vector<std::string> w;
  auto spans = decode_traces_json(body, w);
  EXPECT_THAT(w, IsEmpty());
  ASSERT_EQ(spans.size(), 1u);
  const auto& s = spans[0];
  EXPECT_EQ(s.start_unix_nano, 1544712660000000000ull);
  EXPECT_EQ(s.flags, 257u);
  EXPECT_EQ(s.status_code, 2);
  EXPECT_EQ(s.status_message, "bad");
  EXPECT_EQ(s.attribute("i"), OtlpValue(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(s.attribute("j"), OtlpValue(std::int64_t{42}));
  EXPECT_TRUE(std::isnan(std::get<double>(*s.attribute("d"))));
  EXPECT_EQ(s.attribute("b"), OtlpValue(false));
  EXPECT_EQ(s.attribute("a"), OtlpValue(std::string(R"(["x",true])")));
  EXPECT_EQ(s.attribute("kv"), OtlpValue(std::string(R"({"k":1})")));
  // Same rendering as the protobuf decoder gives bytes 01 02.
  EXPECT_EQ(s.attribute("raw"), OtlpValue(std::string(R"("base64:AQI=")")));
}

TEST(OtlpJson, SpecDeviationsAreErrors) {
  auto decode = [](std::string span_fields) {
    std::vector<std::string> w;
    decode_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)" + span_fields + "}]}]}]}",
                       w);
  };
  const std::string ids =
      R"("traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",)";
  EXPECT_NO_THROW(decode(ids + R"("name":"ok","kind":1)"));
  // Enums as names "MUST NOT be used".
  EXPECT_THROW(decode(ids + R"("kind":"SPAN_KIND_SERVER")"), OtlpDecodeError);
  EXPECT_THROW(decode(ids + R"("status":{"code":"STATUS_CODE_ERROR"})"), OtlpDecodeError);
  // Ids are hex, not base64 as in the generic protobuf JSON mapping.
  EXPECT_THROW(decode(R"("traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"eee19b7ec3c1b174")"),
               OtlpDecodeError);
  EXPECT_THROW(decode(R"("traceId":"5b8efff798038103","spanId":"eee19b7ec3c1b174")"),
               OtlpDecodeError);
  // Original (snake_case) field names are not valid keys.
  EXPECT_THROW(decode(R"("trace_id":"5b8efff798038103d269b633813fc60c")"), OtlpDecodeError);
  EXPECT_THROW(decode(ids + R"("start_time_unix_nano":"1")"), OtlpDecodeError);
  // Wrong JSON types.
  EXPECT_THROW(decode(ids + R"("startTimeUnixNano":"12abc")"), OtlpDecodeError);
  EXPECT_THROW(decode(ids + R"("startTimeUnixNano":1.5)"), OtlpDecodeError);
  EXPECT_THROW(decode(ids + R"("name":7)"), OtlpDecodeError);
  EXPECT_THROW(decode(ids + R"("attributes":{})"), OtlpDecodeError);
  EXPECT_THROW(
      decode(ids + R"("attributes":[{"key":"a","value":{"stringValue":"x","intValue":1}}])"),
      OtlpDecodeError);
  std::vector<std::string> w;
  EXPECT_THROW(decode_traces_json("[]", w), OtlpDecodeError);
  EXPECT_THROW(decode_traces_json("{", w), OtlpDecodeError);
  EXPECT_THROW(
      decode_traces_json(
          "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\xc3\x28\"}]}]}]}", w),
      OtlpDecodeError);  // invalid UTF-8
}

// opentelemetry-proto examples/metrics.json (its histogram has 3 bucket counts for 1 bound).
constexpr std::string_view kMetricsJson = R"({"resourceMetrics":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
  "scopeMetrics":[{"scope":{"name":"my.library","version":"1.0.0"},"metrics":[
    {"name":"my.counter","unit":"1","description":"I am a Counter","sum":{"aggregationTemporality":1,
     "isMonotonic":true,"dataPoints":[{"asDouble":5,"startTimeUnixNano":1544712660300000000,
     "timeUnixNano":1544712660300000000,"attributes":[{"key":"my.counter.attr","value":{"stringValue":"some value"}}]}]}},
    {"name":"my.gauge","unit":"1","description":"I am a Gauge","gauge":{"dataPoints":[{"asDouble":10,
     "timeUnixNano":1544712660300000000}]}},
    {"name":"my.histogram","unit":"1","description":"I am a Histogram","histogram":{"aggregationTemporality":1,
     "dataPoints":[{"startTimeUnixNano":1544712660300000000,"timeUnixNano":1544712660300000000,"count":3,"sum":3,
     "bucketCounts":[1,1,1],"explicitBounds":[1],"min":1,"max":1}]}}]}]}]})";

TEST(OtlpJson, SpecMetricsExample) {
  std::vector<std::string> w;
  auto metrics = decode_metrics_json(kMetricsJson, w);
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].name, "my.counter");
  EXPECT_EQ(metrics[0].type, "sum");
  EXPECT_TRUE(metrics[0].monotonic);
  EXPECT_EQ(metrics[0].temporality, 1);
  EXPECT_EQ(metrics[0].points[0].as_double, 5.0);
  EXPECT_EQ(metrics[0].service_name, "my.service");
  EXPECT_EQ(metrics[1].type, "gauge");
  EXPECT_EQ(metrics[1].points[0].value(), 10.0);
  EXPECT_EQ(metrics[2].type, "histogram");
  EXPECT_EQ(metrics[2].points[0].bucket_counts, (std::vector<std::uint64_t>{1, 1, 1}));
  EXPECT_EQ(metrics[2].points[0].explicit_bounds, (std::vector<double>{1}));
  EXPECT_EQ(metrics[2].points[0].count, 3u);
  EXPECT_EQ(metrics[2].points[0].sum, 3.0);
  // The published example is itself inconsistent; the decoder says so.
  ASSERT_EQ(w.size(), 1u) << ::testing::PrintToString(w);
  EXPECT_THAT(w[0], HasSubstr("3 bucket counts for 1 bounds"));
}

TEST(OtlpJson, MetricErrors) {
  std::vector<std::string> w;
  EXPECT_THROW(
      decode_metrics_json(
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE"}}]}]}]})",
          w),
      OtlpDecodeError);
  EXPECT_THROW(
      decode_metrics_json(
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"data_points":[]}}]}]}]})",
          w),
      OtlpDecodeError);
  EXPECT_THROW(
      decode_metrics_json(
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{},"sum":{}}]}]}]})",
          w),
      OtlpDecodeError);
}

// ------------------------------------------------------------------------------------------
// The receiver over HTTP.

TEST(OtlpReceiver, AcceptsProtobufAndJsonOnOneKeepAliveConnection) {
  OtlpReceiver rx;
  EXPECT_EQ(rx.traces_endpoint(), "http://127.0.0.1:" + std::to_string(rx.port()) + "/v1/traces");
  HttpClient client(rx.port());
  auto r1 = client.request("POST", "/v1/traces", traces_request(full_span()).out,
                           {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r1.status, 200u);
  EXPECT_EQ(r1.header("content-type"), "application/x-protobuf");
  EXPECT_EQ(r1.body, "");  // an empty ExportTraceServiceResponse
  auto r2 = client.request("POST", "/v1/traces", std::string(kTraceJson),
                           {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(r2.status, 200u);
  EXPECT_EQ(r2.header("content-type"), "application/json");
  EXPECT_EQ(r2.body, "{}");
  auto r3 = client.request("POST", "/v1/metrics", std::string(kMetricsJson),
                           {{"Content-Type", "application/json"}});
  EXPECT_EQ(r3.status, 200u);

  ASSERT_TRUE(rx.wait_for_spans([](const auto& s) { return s.size() == 2; }, 2s));
  auto spans = rx.spans();
  EXPECT_EQ(spans[0].encoding, "protobuf");
  EXPECT_EQ(spans[1].encoding, "json");
  EXPECT_EQ(rx.metrics().size(), 3u);
  EXPECT_EQ(rx.request_count("/v1/traces"), 2u);
  EXPECT_EQ(rx.request_count("/v1/traces", "application/json"), 1u);
  EXPECT_EQ(rx.request_count("", "application/json"), 2u);
  EXPECT_EQ(rx.requests()[0].headers.at("content-type"), "application/x-protobuf");
  // Only the published metrics example's own inconsistency.
  ASSERT_EQ(rx.errors().size(), 1u);
  EXPECT_THAT(rx.errors()[0], HasSubstr("POST /v1/metrics (application/json): "));
  rx.clear();
  EXPECT_THAT(rx.errors(), IsEmpty());
  EXPECT_THAT(rx.spans(), IsEmpty());
}

TEST(OtlpReceiver, BadRequestsAreAnsweredAndRecorded) {
  OtlpReceiver rx;
  HttpClient client(rx.port());
  auto bad = client.request("POST", "/v1/traces",
                            "\x0a\x05"
                            "ab",
                            {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.header("content-type"), "application/x-protobuf");
  EXPECT_EQ(bad.body.substr(0, 1), "\x12");  // google.rpc.Status.message
  auto bad_json = client.request("POST", "/v1/traces", R"({"resourceSpans":3})",
                                 {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_json.status, 400u);
  EXPECT_THAT(bad_json.body, HasSubstr("expected an array"));
  EXPECT_EQ(client.request("POST", "/v1/logs", "", {{"Content-Type", "application/json"}}).status,
            404u);
  EXPECT_EQ(client.request("GET", "/v1/traces").status, 405u);
  EXPECT_EQ(client.request("POST", "/v1/traces", "x", {{"Content-Type", "text/plain"}}).status,
            415u);
  EXPECT_EQ(client
                .request("POST", "/v1/traces", "x",
                         {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}})
                .status,
            415u);
  EXPECT_EQ(rx.errors().size(), 6u) << ::testing::PrintToString(rx.errors());
  EXPECT_THAT(rx.spans(), IsEmpty());
  // The connection survived every error answer.
  EXPECT_EQ(
      client.request("POST", "/v1/traces", "", {{"Content-Type", "application/x-protobuf"}}).status,
      200u);
}

TEST(OtlpReceiver, ForcedStatus) {
  OtlpReceiver rx;
  rx.set_forced_status(503);
  auto r = http(rx.port(), "POST", "/v1/traces", traces_request(full_span()).out,
                {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r.status, 503u);
  EXPECT_THAT(rx.spans(), IsEmpty());
  EXPECT_THAT(rx.errors(), IsEmpty());
  rx.set_forced_status(0);
  r = http(rx.port(), "POST", "/v1/traces", traces_request(full_span()).out,
           {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(rx.spans().size(), 1u);
}

TEST(OtlpReceiver, BlackHoleReadsButNeverAnswers) {
  OtlpReceiver rx;
  rx.set_black_hole(true);
  HttpClient client(rx.port());
  const std::string body = traces_request(full_span()).out;
  client.send_raw(
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(rx.wait_for_requests(1, 2s));
  EXPECT_EQ(client.read_response(300ms), std::nullopt);
  EXPECT_FALSE(client.closed_by_peer(100ms));
  EXPECT_EQ(rx.request_count("/v1/traces", "application/x-protobuf"), 1u);
  EXPECT_EQ(rx.requests()[0].status, 0u);
  EXPECT_EQ(rx.requests()[0].body_bytes, body.size());
  EXPECT_THAT(rx.spans(), IsEmpty());
  // Destroying the receiver with the hung connection open must not hang.
}

TEST(OtlpReceiver, WaitTimesOut) {
  OtlpReceiver rx;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(rx.wait_for_spans([](const auto& s) { return !s.empty(); }, 100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}
