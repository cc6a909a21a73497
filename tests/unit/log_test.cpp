#include "telemetry/log.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdio>

using namespace userservice::telemetry;

namespace {
std::string capture(Level min, const std::function<void(Logger&)>& fn) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  {
    Logger log(min, f);
    fn(log);
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}
}  // namespace

TEST(Logger, WritesOneJsonObjectPerLine) {
  std::string out = capture(Level::debug, [](Logger& log) {
    log.info("request", {{"request_id", "abc"}, {"status", 200}, {"ok", true}, {"ms", 1.5}});
    log.warn("quote \" and newline \n and \x01 control");
  });
  auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  auto first = boost::json::parse(out.substr(0, nl)).as_object();
  EXPECT_EQ(first.at("level").as_string(), "info");
  EXPECT_EQ(first.at("msg").as_string(), "request");
  EXPECT_EQ(first.at("request_id").as_string(), "abc");
  EXPECT_EQ(first.at("status").as_int64(), 200);
  EXPECT_EQ(first.at("ok").as_bool(), true);
  EXPECT_DOUBLE_EQ(first.at("ms").as_double(), 1.5);
  EXPECT_TRUE(first.at("time").as_string().ends_with("Z"));
  auto second = boost::json::parse(out.substr(nl + 1)).as_object();
  EXPECT_EQ(second.at("msg").as_string(), "quote \" and newline \n and \x01 control");
}

TEST(Logger, FiltersBelowTheLevel) {
  std::string out = capture(Level::warn, [](Logger& log) {
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
  });
  EXPECT_EQ(out.find("\"d\""), std::string::npos);
  EXPECT_EQ(out.find("\"i\""), std::string::npos);
  EXPECT_NE(out.find("\"w\""), std::string::npos);
  EXPECT_NE(out.find("\"e\""), std::string::npos);
}

TEST(Logger, ParsesLevels) {
  EXPECT_EQ(userservice::parse_log_level("debug"), Level::debug);
  EXPECT_EQ(userservice::parse_log_level("info"), Level::info);
  EXPECT_EQ(userservice::parse_log_level("warn"), Level::warn);
  EXPECT_EQ(userservice::parse_log_level("error"), Level::error);
  EXPECT_EQ(userservice::parse_log_level("INFO"), std::nullopt);
  EXPECT_EQ(userservice::parse_log_level("warning"), std::nullopt);
}
