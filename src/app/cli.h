#pragma once
// The command line of the userservice binary. The service takes its configuration from the
// environment only (README, "Configuration"); arguments select what the process does:
//
//   userservice                      run the service until SIGTERM/SIGINT
//   userservice --help | -h          usage, exit 0
//   userservice --version            version, git commit and build type, exit 0
//   userservice --check-config       validate the environment as startup does; touches nothing
//   userservice migrate [--status]   apply migrations (or list applied/pending) and exit
//
// Exit codes: 0 success, 1 a runtime failure (startup, migration, database unreachable),
// 2 a usage or configuration error.
#include <span>
#include <string>
#include <string_view>

namespace userservice::app {

// What the build stamped into the binary (cmake/build_info.cmake).
struct BuildInfo {
  std::string_view version;     // "1.0.0"
  std::string_view git_commit;  // abbreviated hash, "+dirty" when built from a modified tree
  std::string_view build_type;  // CMAKE_BUILD_TYPE
};

enum class Command {
  run,
  help,
  version,
  check_config,
  migrate,
  migrate_status,
  print_statements,  // hidden: bench/ builds its pgbench scripts from it
  usage_error,
};

struct ParsedCommand {
  Command command = Command::run;
  std::string error;  // usage_error: what was wrong ("unknown argument \"--x\"")
};

// `args` excludes argv[0].
ParsedCommand parse_command_line(std::span<const std::string_view> args);

// The usage text (ends with a newline).
std::string usage();

// "userservice 1.0.0 (commit 3061e02, RelWithDebInfo)".
std::string version_line(const BuildInfo& build);

// Parses argv and does what it says; returns the process exit code.
int main(int argc, char** argv, const BuildInfo& build);

}  // namespace userservice::app
