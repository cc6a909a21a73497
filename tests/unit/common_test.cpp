// The shared helpers of src/common/ (no I/O, no telemetry).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <stdexcept>
#include <string>

#include "common/coroutine_failure.h"
#include "common/host_port.h"
#include "common/http_url.h"
#include "common/log_level.h"
#include "common/scope_exit.h"
#include "common/strings.h"

namespace userservice {
namespace {

TEST(ScopeExit, RunsOnceWhenTheScopeEndsAlsoByAnException) {
  int runs = 0;
  {
    ScopeExit guard([&] { ++runs; });
    EXPECT_EQ(runs, 0);
  }
  EXPECT_EQ(runs, 1);
  try {
    ScopeExit guard([&] { ++runs; });
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(runs, 2);
}

TEST(Trim, RemovesBlanksAtBothEndsOnly) {
  EXPECT_EQ(trim("  a b\t"), "a b");
  EXPECT_EQ(trim("\t\t"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  // Blanks are space and tab only; other white space needs kAsciiSpace.
  EXPECT_EQ(trim("\n x \r"), "\n x \r");
  EXPECT_EQ(trim("\n\v\f x \r", kAsciiSpace), "x");
  EXPECT_EQ(trim(" \t\n\v\f\r", kAsciiSpace), "");
}

TEST(HostPort, SplitsAtTheLastColonAndDropsIpv6Brackets) {
  auto a = split_host_port("redis.local:6379");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "redis.local");
  EXPECT_EQ(a->port, "6379");
  auto b = split_host_port("[::1]:8091");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "8091");
  auto c = split_host_port(":8091");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "");
  EXPECT_EQ(c->port, "8091");
  auto d = split_host_port("host:");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, "");
  EXPECT_FALSE(split_host_port("no-port"));
}

TEST(HostPort, PortsAreDecimalUpTo65535) {
  EXPECT_EQ(parse_port("0"), 0);
  EXPECT_EQ(parse_port("8091"), 8091);
  EXPECT_EQ(parse_port("65535"), 65535);
  EXPECT_EQ(parse_port("06379"), 6379);
  EXPECT_FALSE(parse_port(""));
  EXPECT_FALSE(parse_port("65536"));
  EXPECT_FALSE(parse_port("99999999999999999999"));
  EXPECT_FALSE(parse_port("-1"));
  EXPECT_FALSE(parse_port("+1"));
  EXPECT_FALSE(parse_port(" 1"));
  EXPECT_FALSE(parse_port("80x"));
}

TEST(HttpUrl, ParsesHttpUrlsOnly) {
  auto u = parse_http_url("http://[::1]:4318/v1/traces?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 4318);
  EXPECT_EQ(u->target, "/v1/traces?x=1");
  std::string why;
  EXPECT_FALSE(parse_http_url("https://collector:4318", &why));
  EXPECT_NE(why.find("https:// is not supported"), std::string::npos);
}

TEST(LogLevel, ParsesAndNamesTheFourLevels) {
  for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  }
  EXPECT_EQ(parse_log_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_log_level(""), std::nullopt);
}

boost::asio::awaitable<void> completes() { co_return; }
boost::asio::awaitable<void> throws_runtime_error() {
  throw std::runtime_error("boom");
  co_return;
}
boost::asio::awaitable<void> throws_int() {
  throw 7;
  co_return;
}

TEST(CoroutineFailure, ReportsWhatEndedACoroutineAndNothingWhenItCompletes) {
  boost::asio::io_context io;
  std::vector<std::optional<std::string>> reports;
  auto record = [&](const char* what) {
    reports.emplace_back(what == nullptr ? std::nullopt : std::optional<std::string>(what));
  };
  boost::asio::co_spawn(io, completes(), on_coroutine_failure(record));
  boost::asio::co_spawn(io, throws_runtime_error(), on_coroutine_failure(record));
  boost::asio::co_spawn(io, throws_int(), on_coroutine_failure(record));
  io.run();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0], "boom");
  EXPECT_EQ(reports[1], std::nullopt);
}

}  // namespace
}  // namespace userservice
