#include "adapters/postgres/migrations.h"

#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include <boost/system/system_error.hpp>

#include "adapters/postgres/pool.h"
#include "domain/error.h"
#include "telemetry/log.h"

namespace userservice::postgres {

namespace asio = boost::asio;

namespace {

// pg_advisory_lock key shared by every instance of the service ("usrvmigr").
constexpr std::string_view kLockKey = "8463233977726625650";

constexpr std::string_view kBootstrap = R"sql(
CREATE SCHEMA IF NOT EXISTS "user";
CREATE TABLE IF NOT EXISTS "user".schema_migrations (
  version int PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
)sql";

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// The server's own bound for the migration session: what is left of the deadline (0 = none).
long long remaining_ms(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left >= std::chrono::milliseconds(INT_MAX)) return 0;
  return std::max<long long>(1, std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

std::runtime_error failure(const std::string& what) {
  return std::runtime_error("database migration failed: " + what);
}

asio::awaitable<void> run_migrations(Pool& pool, telemetry::Logger& log, Clock::time_point deadline,
                                     const std::vector<const Migration*>& ordered) {
  // One dedicated connection: scripts need the simple-query protocol, and the session-level
  // advisory lock must live on the connection that applies the migrations. The Lease closes
  // it afterwards, which also releases the lock if anything below fails.
  Lease lease = co_await pool.acquire(deadline);
  co_await lease.execute("SET statement_timeout = " + std::to_string(remaining_ms(deadline)) +
                             "; SELECT pg_advisory_lock(" + std::string(kLockKey) + ")",
                         deadline);
  co_await lease.execute(std::string(kBootstrap), deadline);
  auto rows = co_await lease.execute(
      R"(SELECT version, name FROM "user".schema_migrations ORDER BY version)", deadline);
  std::set<int> applied;
  for (int r = 0; r < rows.at(0).rows(); ++r) {
    applied.insert(static_cast<int>(rows[0].int64(r, 0)));
  }

  const int newest_known = ordered.empty() ? 0 : ordered.back()->version;
  if (!applied.empty() && *applied.rbegin() > newest_known) {
    throw failure("the database has schema version " + std::to_string(*applied.rbegin()) +
                  ", newer than the newest this binary knows (" + std::to_string(newest_known) +
                  "); migrations are forward-only, deploy a newer binary");
  }
  int count = 0;
  for (const Migration* m : ordered) {
    if (applied.contains(m->version)) continue;
    if (!applied.empty() && *applied.rbegin() > m->version) {
      throw failure("migration " + std::string(m->name) + " is not applied but the later " +
                    "version " + std::to_string(*applied.rbegin()) + " is");
    }
    log.info("applying database migration", {{"version", m->version}, {"name", m->name}});
    // One transaction per migration, together with its bookkeeping row.
    std::string script = "BEGIN;\n";
    script += m->sql;
    script += "\n;\nINSERT INTO \"user\".schema_migrations (version, name) VALUES (" +
              std::to_string(m->version) + ", " + quote_literal(m->name) + ");\nCOMMIT;";
    try {
      co_await lease.execute(std::move(script), deadline);
    } catch (const SqlError& e) {
      throw failure("migration " + std::string(m->name) + ": " + e.what() + " (SQLSTATE " +
                    e.sqlstate + ")");
    }
    ++count;
  }
  co_await lease.execute("SELECT pg_advisory_unlock(" + std::string(kLockKey) + ")", deadline);
  log.info("database migrations done",
           {{"applied", count},
            {"version", std::max(newest_known, applied.empty() ? 0 : *applied.rbegin())}});
}

}  // namespace

asio::awaitable<void> migrate(Pool& pool, telemetry::Logger& log, Clock::time_point deadline) {
  co_await migrate(pool, log, deadline, embedded_migrations());
}

asio::awaitable<void> migrate(Pool& pool, telemetry::Logger& log, Clock::time_point deadline,
                              const std::vector<Migration>& migrations) {
  std::vector<const Migration*> ordered;
  for (const Migration& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    if (ordered[i]->version <= 0 || (i > 0 && ordered[i]->version == ordered[i - 1]->version)) {
      throw failure("invalid or duplicate migration version " +
                    std::to_string(ordered[i]->version) + " (" + std::string(ordered[i]->name) +
                    ")");
    }
  }
  try {
    co_await run_migrations(pool, log, deadline, ordered);
  } catch (const domain::Error& e) {
    throw failure(e.message() + (e.detail().empty() ? "" : ": " + e.detail()));
  } catch (const SqlError& e) {
    throw failure(std::string(e.what()) + " (SQLSTATE " + e.sqlstate + ")");
  }
}

asio::awaitable<std::vector<MigrationState>> migration_status(Pool& pool,
                                                              Clock::time_point deadline) {
  std::map<int, MigrationState> by_version;
  for (const Migration& m : embedded_migrations()) {
    by_version[m.version] = MigrationState{m.version, std::string(m.name), true, false, {}};
  }
  try {
    Lease lease = co_await pool.acquire(deadline);
    // to_regclass: NULL when the bookkeeping table does not exist yet (never migrated).
    auto exists = co_await lease.execute(
        R"(SELECT to_regclass('"user".schema_migrations') IS NOT NULL)", deadline);
    if (exists.at(0).rows() == 1 && exists[0].boolean(0, 0)) {
      auto rows = co_await lease.execute(
          R"(SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             FROM "user".schema_migrations ORDER BY version)",
          deadline);
      for (int r = 0; r < rows.at(0).rows(); ++r) {
        const int v = static_cast<int>(rows[0].int64(r, 0));
        MigrationState& state = by_version[v];
        if (state.version == 0) state = MigrationState{v, rows[0].text(r, 1), false, true, {}};
        state.applied = true;
        state.applied_at = rows[0].text(r, 2);
      }
    }
  } catch (const SqlError& e) {
    throw std::runtime_error("reading the migration status failed: " + std::string(e.what()) +
                             " (SQLSTATE " + e.sqlstate + ")");
  }
  std::vector<MigrationState> out;
  for (auto& [v, state] : by_version) out.push_back(std::move(state));
  co_return out;
}

}  // namespace userservice::postgres
