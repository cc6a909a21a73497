#include "app/cli.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <exception>
#include <optional>
#include <vector>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/statements.h"
#include "app/runtime.h"
#include "common/utf8.h"
#include "config/config.h"
#include "domain/error.h"
#include "telemetry/log.h"

namespace userservice::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Same budgets as startup (runtime.cpp): a migration may take a while, a ping may not.
constexpr auto kMigrationBudget = 120s;

std::optional<config::Config> load_config() {
  try {
    return config::load();
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "userservice: configuration error: %s\n", e.what());
    return std::nullopt;
  }
}

// The service name and version go on every log line and on the OTLP resource.
void identify(config::Config& cfg, telemetry::Logger& log, const BuildInfo& build) {
  log.identify(cfg.telemetry.service_name, build.version);
  auto& attrs = cfg.telemetry.resource_attributes;
  // First, so that a service.version in OTEL_RESOURCE_ATTRIBUTES still wins.
  attrs.insert(attrs.begin(), {"service.version", std::string(build.version)});
}

// Runs `body` on a one-off event loop with a one-connection pool on the primary (no metrics,
// no tracer), through USERSERVICE_POSTGRES_SESSION_DSN when set: migrations hold a session
// advisory lock, which a transaction pooler would not keep.
template <typename Body>
int with_primary(const config::Config& cfg, telemetry::Logger& log, Body body) {
  asio::io_context io{1};
  const std::string& dsn =
      cfg.postgres.session_dsn.empty() ? cfg.postgres.primary_dsn : cfg.postgres.session_dsn;
  postgres::Pool pool(io.get_executor(),
                      postgres::PoolOptions{.dsn = dsn,
                                            .max_open = 1,
                                            .max_idle = 1,
                                            .operation_timeout = cfg.postgres.operation_timeout,
                                            .name = "primary"},
                      log, nullptr);
  int code = kExitOk;
  asio::co_spawn(io, body(pool), [&](std::exception_ptr ep) {
    if (!ep) return;
    code = kExitFailure;
    try {
      std::rethrow_exception(ep);
    } catch (const domain::Error& e) {
      std::fprintf(stderr, "userservice: %s%s%s\n", e.message().c_str(),
                   e.detail().empty() ? "" : ": ", e.detail().c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "userservice: %s\n", e.what());
    }
  });
  io.run();
  pool.close();
  return code;
}

int migrate(config::Config cfg, telemetry::Logger& log) {
  return with_primary(cfg, log, [&](postgres::Pool& pool) -> asio::awaitable<void> {
    co_await postgres::migrate(pool, log, Clock::now() + kMigrationBudget);
  });
}

int migrate_status(config::Config cfg, telemetry::Logger& log) {
  std::vector<postgres::MigrationState> states;
  const int code = with_primary(cfg, log, [&](postgres::Pool& pool) -> asio::awaitable<void> {
    states = co_await postgres::migration_status(pool, Clock::now() + kMigrationBudget);
  });
  if (code != kExitOk) return code;
  std::printf("%-8s %-40s %-8s %s\n", "VERSION", "NAME", "STATE", "APPLIED_AT");
  int pending = 0;
  for (const auto& s : states) {
    const char* state = s.known ? (s.applied ? "applied" : "pending") : "unknown";
    if (s.known && !s.applied) ++pending;
    std::printf("%-8d %-40s %-8s %s\n", s.version, s.name.c_str(), state,
                s.applied_at.empty() ? "-" : s.applied_at.c_str());
  }
  std::printf("%d pending\n", pending);
  return kExitOk;
}

}  // namespace

ParsedCommand parse_command_line(std::span<const std::string_view> args) {
  ParsedCommand out;
  const auto fail = [&](std::string why) {
    out.command = Command::usage_error;
    out.error = std::move(why);
    return out;
  };
  if (args.empty()) return out;
  const std::string_view first = args[0];
  if (first == "migrate") {
    if (args.size() == 1) {
      out.command = Command::migrate;
      return out;
    }
    if (args.size() == 2 && args[1] == "--status") {
      out.command = Command::migrate_status;
      return out;
    }
    return fail("migrate takes only --status, got " + quote_text(args[1]));
  }
  if (args.size() > 1) return fail("unexpected argument " + quote_text(args[1]));
  if (first == "--help" || first == "-h" || first == "help") {
    out.command = Command::help;
  } else if (first == "--version" || first == "version") {
    out.command = Command::version;
  } else if (first == "--check-config") {
    out.command = Command::check_config;
  } else if (first == "--print-statements") {
    out.command = Command::print_statements;
  } else {
    return fail("unknown argument " + quote_text(first));
  }
  return out;
}

std::string usage() {
  return R"(usage: userservice [command]

Runs the userservice (player accounts) until SIGTERM or SIGINT. All configuration comes
from USERSERVICE_* and OTEL_* environment variables (see the README).

commands:
  (none)            run the service
  --help, -h        show this text
  --version         print the version, git commit and build type
  --check-config    validate the environment exactly as startup does, touching nothing
                    (exit 0: valid; exit 2: the error names the variable)
  migrate           apply pending database migrations under the advisory lock, then exit
  migrate --status  list applied and pending migrations, then exit

exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
signals: SIGTERM/SIGINT drain and stop; SIGHUP is logged and ignored (nothing reloads).
)";
}

std::string version_line(const BuildInfo& build) {
  std::string out = "userservice ";
  out += build.version;
  out += " (commit ";
  out += build.git_commit;
  out += ", ";
  out += build.build_type;
  out += ')';
  return out;
}

int main(int argc, char** argv, const BuildInfo& build) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const ParsedCommand parsed = parse_command_line(args);
  switch (parsed.command) {
    case Command::usage_error:
      std::fprintf(stderr, "userservice: %s\n\n%s", parsed.error.c_str(), usage().c_str());
      return kExitUsage;
    case Command::help:
      std::fputs(usage().c_str(), stdout);
      return kExitOk;
    case Command::version:
      std::printf("%s\n", version_line(build).c_str());
      return kExitOk;
    case Command::print_statements:
      return postgres::print_statements(stdout);
    case Command::check_config: {
      if (!load_config()) return kExitUsage;
      std::printf("userservice: configuration is valid\n");
      return kExitOk;
    }
    case Command::migrate:
    case Command::migrate_status:
    case Command::run:
      break;
  }
  std::optional<config::Config> cfg = load_config();
  if (!cfg) return kExitUsage;
  telemetry::Logger log(cfg->log_level);
  identify(*cfg, log, build);
  if (parsed.command == Command::migrate) return migrate(std::move(*cfg), log);
  if (parsed.command == Command::migrate_status) return migrate_status(std::move(*cfg), log);
  log.info("starting", {{"commit", build.git_commit}, {"build_type", build.build_type}});
  return Runtime(std::move(*cfg), log).run();
}

}  // namespace userservice::app
