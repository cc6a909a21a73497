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
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/
#include "telemetry/log.h"

namespace userservice::postgres {

namespace asio = boost::asio;

namespace {

// pg_advisory_lock key shared by every instance of the service ("usrvmigr").
constexpr std::string_view kLockKey = "8463233977726625650";

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
  const Params none;
  // The session's own bound first: the lock may wait for another instance's migrations.
  Params timeout{std::to_string(remaining_ms(deadline))};
  co_await lease.execute(sql::kUserserviceSessionTimeout, std::move(timeout), deadline);
  Params lock{std::string(kLockKey)};
  co_await lease.execute(sql::kMigrationsLock, std::move(lock), deadline);
  co_await lease.execute(sql::kMigrationsBootstrap, none, deadline);
  const Result rows = co_await lease.execute(sql::kMigrationsApplied, none, deadline);
  std::set<int> applied;
  for (int r = 0; r < rows.rows(); ++r) {
    applied.insert(static_cast<int>(rows.int64(r, 0)));
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
    // One transaction per migration, together with its bookkeeping row. A failure leaves it
    // open: the Lease closes the connection, which rolls it back.
    try {
      co_await lease.execute(sql::kUserserviceBegin, none, deadline);
      co_await lease.execute(std::string(m->sql), deadline);
      Params row{std::to_string(m->version), std::string(m->name)};
      co_await lease.execute(sql::kMigrationsRecord, std::move(row), deadline);
      co_await lease.execute(sql::kUserserviceCommit, none, deadline);
    } catch (const SqlError& e) {
      throw failure("migration " + std::string(m->name) + ": " + e.what() + " (SQLSTATE " +
                    e.sqlstate + ")");
    }
    ++count;
  }
  Params unlock{std::string(kLockKey)};
  co_await lease.execute(sql::kMigrationsUnlock, std::move(unlock), deadline);
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
    const Params none;
    // to_regclass: NULL when the bookkeeping table does not exist yet (never migrated).
    const Result exists = co_await lease.execute(sql::kMigrationsTableExists, none, deadline);
    if (exists.rows() == 1 && exists.boolean(0, 0)) {
      const Result rows = co_await lease.execute(sql::kMigrationsStatus, none, deadline);
      for (int r = 0; r < rows.rows(); ++r) {
        const int v = static_cast<int>(rows.int64(r, 0));
        MigrationState& state = by_version[v];
        if (state.version == 0) state = MigrationState{v, rows.text(r, 1), false, true, {}};
        state.applied = true;
        state.applied_at = rows.text(r, 2);
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
