#pragma once
// Forward-only schema migrations, embedded in the binary from migrations/*.sql
// (cmake/embed_migrations.cmake generates embedded_migrations()).
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/context.h"

namespace userservice::telemetry {
class Logger;
}

namespace userservice::postgres {

class Pool;

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Every migration file, ordered by version.
const std::vector<Migration>& embedded_migrations();

// Applies the embedded migrations that "user".schema_migrations does not record, in order,
// each in its own transaction, under a PostgreSQL advisory lock so that instances starting
// together do not race. Bounded by `deadline` only (not the pool's operation timeout).
// Throws std::runtime_error with a clear message on any failure, including a database
// that already has a version newer than this binary knows.
boost::asio::awaitable<void> migrate(Pool& pool, telemetry::Logger& log,
                                     Clock::time_point deadline);

// One row of `userservice migrate --status`.
struct MigrationState {
  int version = 0;
  std::string name;
  bool known = true;  // false: recorded in the database but not embedded in this binary
  bool applied = false;
  std::string applied_at;  // RFC 3339 UTC when applied, else ""
};

// Every embedded migration and every recorded one, by version. Reads only: no lock, no
// bootstrap (a database never migrated lists everything as pending).
boost::asio::awaitable<std::vector<MigrationState>> migration_status(Pool& pool,
                                                                     Clock::time_point deadline);

// Same, with an explicit list (tests use it to exercise ordering and refusal).
boost::asio::awaitable<void> migrate(Pool& pool, telemetry::Logger& log, Clock::time_point deadline,
                                     const std::vector<Migration>& migrations);

}  // namespace userservice::postgres
