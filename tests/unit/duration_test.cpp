#include "config/duration.h"

#include "common/utf8.h"

#include <gtest/gtest.h>

using userservice::config::format_go_duration;
using userservice::config::parse_go_duration;
using namespace std::chrono;

TEST(GoDuration, ParsesTheSpecExamples) {
  EXPECT_EQ(parse_go_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_go_duration("90s"), seconds(90));
  EXPECT_EQ(parse_go_duration("1m30s"), seconds(90));
  EXPECT_EQ(parse_go_duration("1.5h"), minutes(90));
}

TEST(GoDuration, ParsesEveryUnit) {
  EXPECT_EQ(parse_go_duration("7ns"), nanoseconds(7));
  EXPECT_EQ(parse_go_duration("7us"), microseconds(7));
  EXPECT_EQ(parse_go_duration("7\xC2\xB5s"), microseconds(7));
  EXPECT_EQ(parse_go_duration("7\xCE\xBCs"), microseconds(7));
  EXPECT_EQ(parse_go_duration("7ms"), milliseconds(7));
  EXPECT_EQ(parse_go_duration("7s"), seconds(7));
  EXPECT_EQ(parse_go_duration("7m"), minutes(7));
  EXPECT_EQ(parse_go_duration("7h"), hours(7));
}

TEST(GoDuration, AcceptsWhatGoAccepts) {
  EXPECT_EQ(parse_go_duration("0"), nanoseconds(0));
  EXPECT_EQ(parse_go_duration("+0"), nanoseconds(0));
  EXPECT_EQ(parse_go_duration("0s"), nanoseconds(0));
  EXPECT_EQ(parse_go_duration("-1.5s"), milliseconds(-1500));
  EXPECT_EQ(parse_go_duration(".5s"), milliseconds(500));
  EXPECT_EQ(parse_go_duration("1.s"), seconds(1));
  EXPECT_EQ(
      parse_go_duration("1h2m3s4ms5us6ns"),
      hours(1) + minutes(2) + seconds(3) + milliseconds(4) + microseconds(5) + nanoseconds(6));
  EXPECT_EQ(parse_go_duration("2562047h47m16.854775807s"), nanoseconds(INT64_MAX));
  EXPECT_EQ(parse_go_duration("0.3333333333333333333h"), nanoseconds(1200000000000));
}

TEST(GoDuration, RejectsWhatGoRejects) {
  for (const char* bad :
       {"", "-", "s", "1", "10", ".s", ".", "1x", "1sec", "1 s", " 1s", "1s ", "1e3s", "1,5s", "MS",
        "1S", "3000000h", "9223372036854775808ns", "2562047h47m16.854775808s"}) {
    std::string why;
    EXPECT_FALSE(parse_go_duration(bad, &why).has_value()) << "accepted: \"" << bad << "\"";
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(GoDuration, ExplainsAMissingUnit) {
  std::string why;
  EXPECT_FALSE(parse_go_duration("30", &why));
  EXPECT_NE(why.find("missing unit"), std::string::npos) << why;
}

TEST(GoDuration, FormatsLikeGo) {
  EXPECT_EQ(format_go_duration(nanoseconds(0)), "0s");
  EXPECT_EQ(format_go_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_go_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_go_duration(minutes(90)), "1h30m0s");
  EXPECT_EQ(format_go_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(format_go_duration(microseconds(3)), "3\xC2\xB5s");
  EXPECT_EQ(format_go_duration(nanoseconds(12)), "12ns");
  EXPECT_EQ(format_go_duration(milliseconds(-1500)), "-1.5s");
}

// Regression (fuzz/regressions/go_duration/): the reason echoed the raw input, so bytes that are
// not UTF-8 reached the startup error line.
TEST(GoDuration, TheReasonQuotesTheInputAsCleanText) {
  std::string why;
  EXPECT_FALSE(userservice::config::parse_go_duration("\x13\x8a\x13", &why));
  EXPECT_TRUE(userservice::is_valid_utf8(why)) << why;
  EXPECT_EQ(why, "invalid duration \"\\u0013\xEF\xBF\xBD\\u0013\"");
}
