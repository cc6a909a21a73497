#include "domain/time.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "domain/error.h"

using namespace userservice::domain;
using namespace std::chrono_literals;
using std::chrono::system_clock;

namespace {

TimePoint from_ms(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
TimePoint from_us(std::int64_t us) {
  return TimePoint(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::microseconds(us)));
}

constexpr std::int64_t kExampleMs = 1795628302123;  // 2026-11-25T17:38:22.123Z

std::int64_t us_of(const std::optional<TimePoint>& tp) {
  return std::chrono::duration_cast<std::chrono::microseconds>(tp->time_since_epoch()).count();
}

}  // namespace

TEST(DomainTime, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339_millis(from_ms(kExampleMs)), "2026-11-25T17:38:22.123Z");
  EXPECT_EQ(format_rfc3339_millis(TimePoint{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(951782400000)), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(951782400000 - 1)), "2000-02-28T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(-2203891200000)), "1900-03-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(5)), "1970-01-01T00:00:00.005Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(60'000)), "1970-01-01T00:01:00.000Z");
}

TEST(DomainTime, FormatTruncatesTowardThePast) {
  EXPECT_EQ(format_rfc3339_millis(from_ms(kExampleMs) + 999us), "2026-11-25T17:38:22.123Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(kExampleMs) + 999999ns), "2026-11-25T17:38:22.123Z");
  EXPECT_EQ(format_rfc3339_millis(TimePoint{} - 1ns), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_millis(from_ms(-1000)), "1969-12-31T23:59:59.000Z");
}

TEST(DomainTime, FormatExtremesOfTheClock) {
  EXPECT_EQ(format_rfc3339_millis(TimePoint::max()), "2262-04-11T23:47:16.854Z");
  EXPECT_EQ(format_rfc3339_millis(TimePoint::min()), "1677-09-21T00:12:43.145Z");
}

TEST(DomainTime, AppendAndWriteDoNotDisturbSurroundings) {
  std::string out = "at=";
  append_rfc3339_millis(out, from_ms(kExampleMs));
  out += ";";
  EXPECT_EQ(out, "at=2026-11-25T17:38:22.123Z;");
  char buffer[kRfc3339MillisLength + 1];
  buffer[kRfc3339MillisLength] = '#';
  write_rfc3339_millis(from_ms(kExampleMs), buffer);
  EXPECT_EQ(std::string_view(buffer, kRfc3339MillisLength), "2026-11-25T17:38:22.123Z");
  EXPECT_EQ(buffer[kRfc3339MillisLength], '#');
}

TEST(DomainTime, ParsesUtcForms) {
  EXPECT_EQ(parse_rfc3339("2026-11-25T17:38:22.123Z"), from_ms(kExampleMs));
  EXPECT_EQ(parse_rfc3339("2026-11-25t17:38:22.123z"), from_ms(kExampleMs));
  EXPECT_EQ(parse_rfc3339("2026-11-25T17:38:22Z"), from_ms(kExampleMs - 123));
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), TimePoint{});
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59.999Z"), from_ms(-1));
}

TEST(DomainTime, ParsesOffsets) {
  const auto utc = from_ms(kExampleMs);
  EXPECT_EQ(parse_rfc3339("2026-11-25T19:38:22.123+02:00"), utc);
  EXPECT_EQ(parse_rfc3339("2026-11-25T12:08:22.123-05:30"), utc);
  EXPECT_EQ(parse_rfc3339("2026-11-25T17:38:22.123+00:00"), utc);
  EXPECT_EQ(parse_rfc3339("2026-11-25T17:38:22.123-00:00"), utc);
  // Offsets move the date across day, month and year boundaries.
  EXPECT_EQ(parse_rfc3339("2027-01-01T05:00:00+14:00"), parse_rfc3339("2026-12-31T15:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-12-31T23:30:00-23:59"), parse_rfc3339("2027-01-01T23:29:00Z"));
}

TEST(DomainTime, FractionsOfAnyLengthTruncateToMicroseconds) {
  const std::int64_t base_us = (kExampleMs - 123) * 1000;
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.1Z")), base_us + 100'000);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.12Z")), base_us + 120'000);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.123456Z")), base_us + 123'456);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.1234569Z")), base_us + 123'456);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.999999999Z")), base_us + 999'999);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22.0000009Z")), base_us);
  EXPECT_EQ(us_of(parse_rfc3339("2026-11-25T17:38:22." + std::string(500, '7') + "Z")),
            base_us + 777'777);
  // No sub-microsecond part survives.
  const auto tp = *parse_rfc3339("2026-11-25T17:38:22.123456789+01:00");
  EXPECT_EQ(tp.time_since_epoch().count() % 1000, 0);
  EXPECT_EQ(us_of(parse_rfc3339("1969-12-31T23:59:59.5Z")), -500'000);
}

TEST(DomainTime, AcceptsValidCalendarEdges) {
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2026-12-31T23:59:59Z"));
  EXPECT_TRUE(parse_rfc3339("2026-04-30T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2026-01-31T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2026-11-25T17:38:22+23:59"));
  EXPECT_TRUE(parse_rfc3339("2026-11-25T17:38:22-23:59"));
}

TEST(DomainTime, RejectsInvalidDatesAndTimes) {
  for (std::string_view bad : {
           "2026-02-30T00:00:00Z",
           "2023-02-29T00:00:00Z",
           "1900-02-29T00:00:00Z",
           "2100-02-29T00:00:00Z",
           "2026-04-31T00:00:00Z",
           "2026-13-01T00:00:00Z",
           "2026-00-10T00:00:00Z",
           "2026-01-00T00:00:00Z",
           "2026-01-32T00:00:00Z",
           "2026-11-25T24:00:00Z",
           "2026-11-25T23:60:00Z",
           "2026-11-25T23:59:60Z",
           "2016-12-31T23:59:60Z" /* a real leap second, still rejected */,
           "2026-11-25T17:38:22+24:00",
           "2026-11-25T17:38:22+02:60",
       }) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(DomainTime, RejectsSyntaxErrors) {
  for (std::string_view bad : {
           "",
           "2026",
           "2026-11-25",
           "17:38:22Z",
           "2026-11-25T17:38:22",
           "2026-11-25T17:38:22.123",
           "2026-11-25 17:38:22Z",
           "2026-11-25_17:38:22Z",
           "2026-11-25T17:38:22.Z",
           "2026-11-25T17:38:22.123.4Z",
           "2026-11-25T17:38:22,123Z",
           "2026-11-25T17:38:22ZZ",
           "2026-11-25T17:38:22Z ",
           " 2026-11-25T17:38:22Z",
           "2026-11-25T17:38:22Z\n",
           "x2026-11-25T17:38:22Z",
           "2026-11-25T17:38:22.123Zjunk",
           "2026-11-25T17:38:22+0200",
           "2026-11-25T17:38:22+02",
           "2026-11-25T17:38:22+2:00",
           "2026-11-25T17:38:22+02:00:00",
           "2026-11-25T17:38:22UTC",
           "2026-11-25T17:38:22GMT",
           "2026-1-25T17:38:22Z",
           "2026-11-5T17:38:22Z",
           "2026-11-25T7:38:22Z",
           "2026-11-25T17:38:2Z",
           "20261125T173822Z",
           "+2026-11-25T17:38:22Z",
           "-2026-11-25T17:38:22Z",
           "2026/11/25T17:38:22Z",
           "2026-11-25T17-38-22Z",
           "2O26-11-25T17:38:22Z",
           "2026-11-2aT17:38:22Z",
           "2026-11-25T17:38:22.12a3Z",
           "2026-11-25T17:38:22+0a:00",
           "2026-11-25T17:38:22 +02:00",
       }) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  EXPECT_FALSE(parse_rfc3339(std::string_view("2026-11-25T17:38:22Z\0", 21)));
}

TEST(DomainTime, RejectsInstantsTheClockCannotHold) {
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_rfc3339("0000-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("1600-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2263-01-01T00:00:00Z"));
  // The last microsecond system_clock holds, and one past it.
  EXPECT_EQ(us_of(parse_rfc3339("2262-04-11T23:47:16.854775Z")), 9223372036854775);
  EXPECT_FALSE(parse_rfc3339("2262-04-11T23:47:16.854776Z"));
  EXPECT_TRUE(parse_rfc3339("2262-04-12T01:47:16.854775+02:00"));
  EXPECT_FALSE(parse_rfc3339("2262-04-11T23:47:16.854775-00:01"));
  // The earliest whole millisecond the clock holds; the 854 µs before it are rejected too,
  // since they would be written as ".145Z", which no parser could read back.
  EXPECT_EQ(us_of(parse_rfc3339("1677-09-21T00:12:43.146Z")), -9223372036854000);
  EXPECT_FALSE(parse_rfc3339("1677-09-21T00:12:43.145999Z"));
  EXPECT_FALSE(parse_rfc3339("1677-09-21T00:12:43.145225Z"));
}

// Regression (fuzz/regressions/rfc3339/): an accepted instant at the start of the clock's range
// was written as a time before it, which parse_rfc3339 rejects.
TEST(DomainTime, EveryAcceptedInstantIsWrittenAsTextThatParsesBack) {
  for (const char* text : {"1677-09-21T00:12:43.146Z", "1677-09-21T00:12:43.146999Z",
                           "1677-09-21T00:12:43.999999999Z", "2262-04-11T23:47:16.854775Z"}) {
    const auto tp = parse_rfc3339(text);
    ASSERT_TRUE(tp) << text;
    const auto back = parse_rfc3339(format_rfc3339_millis(*tp));
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(std::chrono::floor<std::chrono::milliseconds>(*back),
              std::chrono::floor<std::chrono::milliseconds>(*tp));
  }
}

TEST(DomainTime, RoundTrips) {
  std::mt19937_64 random(11);
  std::uniform_int_distribution<std::int64_t> us(-5'000'000'000'000'000, 9'000'000'000'000'000);
  for (int i = 0; i < 20000; ++i) {
    const TimePoint tp = from_us(us(random));
    const std::string text = format_rfc3339_millis(tp);
    ASSERT_EQ(text.size(), kRfc3339MillisLength);
    const auto parsed = parse_rfc3339(text);
    ASSERT_TRUE(parsed) << text;
    ASSERT_EQ(*parsed, std::chrono::floor<std::chrono::milliseconds>(tp)) << text;
    ASSERT_EQ(format_rfc3339_millis(*parsed), text);
  }
}

TEST(DomainTime, RequireNamesTheField) {
  EXPECT_EQ(require_rfc3339("2026-11-25T17:38:22.123Z", "expires_at"), from_ms(kExampleMs));
  try {
    require_rfc3339("tomorrow", "expires_at");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    EXPECT_NE(e.message().find("expires_at"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("RFC 3339"), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find("tomorrow"), std::string::npos) << "input is not echoed";
  }
}
