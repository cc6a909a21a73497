#include "app/cli.h"

#include <gtest/gtest.h>

#include <vector>

using userservice::app::BuildInfo;
using userservice::app::Command;
using userservice::app::parse_command_line;

namespace {

Command parse(std::vector<std::string_view> args) { return parse_command_line(args).command; }

TEST(CommandLine, EachCommand) {
  EXPECT_EQ(parse({}), Command::run);
  EXPECT_EQ(parse({"--help"}), Command::help);
  EXPECT_EQ(parse({"-h"}), Command::help);
  EXPECT_EQ(parse({"--version"}), Command::version);
  EXPECT_EQ(parse({"--check-config"}), Command::check_config);
  EXPECT_EQ(parse({"migrate"}), Command::migrate);
  EXPECT_EQ(parse({"migrate", "--status"}), Command::migrate_status);
  EXPECT_EQ(parse({"--print-statements"}), Command::print_statements);
}

TEST(CommandLine, AnythingElseIsAUsageErrorThatSaysWhat) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{{"--Version"},
                                                                     {"-v"},
                                                                     {"run"},
                                                                     {"--help", "--version"},
                                                                     {"migrate", "--force"},
                                                                     {"migrate", "--status", "x"},
                                                                     {"--status"},
                                                                     {""},
                                                                     {"--check-config=1"}}) {
    auto parsed = parse_command_line(args);
    EXPECT_EQ(parsed.command, Command::usage_error) << args[0];
    EXPECT_FALSE(parsed.error.empty());
  }
  auto bad = parse_command_line(std::vector<std::string_view>{"\xff\n"});
  EXPECT_EQ(bad.error, "unknown argument \"\xEF\xBF\xBD\\n\"");
}

TEST(CommandLine, VersionLine) {
  EXPECT_EQ(userservice::app::version_line(BuildInfo{"1.2.3", "abc123", "Debug"}),
            "userservice 1.2.3 (commit abc123, Debug)");
}

}  // namespace
