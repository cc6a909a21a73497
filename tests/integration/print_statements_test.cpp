// `userservice --print-statements` (src/adapters/postgres/statements.h): the hidden flag that
// bench/ builds its pgbench scripts from. It must print valid JSON lines without any
// configuration, and every printed statement must be SQL that PostgreSQL accepts against the
// migrated schema, since pgbench runs it verbatim.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <set>
#include <sstream>

#include "adapters/postgres/pool.h"
#include "adapters/postgres/statements.h"
#include "integration/service_fixture.h"
#include "support/process_util.h"

using namespace userservice::testing;

namespace {

struct Printed {
  int exit_code = -1;
  std::vector<std::pair<std::string, std::string>> statements;  // name, sql
  std::string raw;
};

Printed print_statements() {
  const std::string dir = detail::make_temp_dir("print-statements-");
  detail::SpawnOptions opts;
  opts.argv = {USERSERVICE_BINARY, "--print-statements"};
  opts.env = std::vector<std::string>{};  // no USERSERVICE_* at all: the flag needs none
  opts.stdout_path = dir + "/stdout";
  opts.stderr_path = dir + "/stderr";
  Printed out;
  out.exit_code = detail::run(opts, std::chrono::seconds(10));
  out.raw = detail::read_file(opts.stdout_path);
  detail::remove_tree(dir);
  std::istringstream lines(out.raw);
  for (std::string line; std::getline(lines, line);) {
    boost::json::value v = boost::json::parse(line);  // throws on a line that is not JSON
    const auto& o = v.as_object();
    EXPECT_EQ(o.size(), 2u) << line;
    out.statements.emplace_back(std::string(o.at("name").as_string()),
                                std::string(o.at("sql").as_string()));
  }
  return out;
}

}  // namespace

TEST(PrintStatements, PrintsEveryNamedStatementAsJsonLinesWithoutConfiguration) {
  Printed p = print_statements();
  ASSERT_EQ(p.exit_code, 0) << p.raw;
  ASSERT_FALSE(p.raw.empty());
  EXPECT_EQ(p.raw.back(), '\n');
  std::set<std::string> names;
  for (const auto& [name, sql] : p.statements) {
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_FALSE(sql.empty()) << name;
  }
  // The registry generated from src/adapters/postgres/sql/ (statements.h), all of it.
  EXPECT_EQ(p.statements.size(), userservice::postgres::all_statements().size());
  // The statements of the benchmarked hot paths (bench/hot/driver.py), one of the admin
  // command store, and the statements outside the stores: the replica probe, the listing's
  // settings and the outbox relay's.
  for (const char* name :
       {"account_state_by_id", "live_account_states", "email_facts", "ensure_account",
        "update_settings", "grant_entitlement", "replica_state", "admin_list_users_settings",
        "outbox_relay_select_heads", "outbox_relay_session_settings", "userservice_ping",
        "userservice_begin", "userservice_deadline_guard", "migrations_applied"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
  // Multi-line SQL with quotes survives the JSON escaping unchanged.
  for (const auto& [name, sql] : p.statements) {
    if (name == "account_state_by_id") {
      EXPECT_NE(sql.find("FROM \"user\".accounts a\n"), std::string::npos) << sql;
      EXPECT_NE(sql.find("WHERE a.user_id = $1"), std::string::npos) << sql;
    }
  }
}

TEST(PrintStatements, EveryStatementPreparesAgainstTheMigratedSchema) {
  Printed p = print_statements();
  ASSERT_EQ(p.exit_code, 0) << p.raw;
  // The service migrates its fresh database at start; the statements are then prepared
  // exactly as pgbench -M prepared does (parameter types inferred by the server).
  RunningService svc = start_service();
  ASSERT_TRUE(svc.process->running());
  // Statements that PREPARE cannot take, each with the reason: they are exactly the ones whose
  // .sql file says `-- prepare: no` (Statement::preparable), and the list here is checked
  // against the registry, so none is skipped silently.
  const std::set<std::string> not_preparable = {
      "userservice_begin",     // a transaction command (Parse takes it, PREPARE does not)
      "userservice_commit",    // likewise
      "userservice_rollback",  // likewise
      "migrations_bootstrap",  // a DDL script of two statements (simple-query protocol)
  };
  std::set<std::string> flagged;
  for (const auto* s : userservice::postgres::all_statements()) {
    if (!s->preparable) flagged.insert(std::string(s->name));
  }
  EXPECT_EQ(flagged, not_preparable);
  int prepared = 0;
  for (std::size_t i = 0; i < p.statements.size(); ++i) {
    const auto& [name, sql] = p.statements[i];
    if (not_preparable.contains(name)) continue;
    EXPECT_NO_THROW(svc.sql("PREPARE s" + std::to_string(i) + " AS " + sql)) << name;
    ++prepared;
  }
  EXPECT_EQ(prepared + not_preparable.size(), userservice::postgres::all_statements().size());
}

// The sweeper's batches must cost the same whatever the planner statistics say. Statistics
// taken before a mass lapse estimate one lapsed row; a DELETE/UPDATE that repeated the
// expiry condition was then driven from the expiry index and rescanned the whole backlog for
// each batch (20,000 sanctions: 43 s instead of 2.6 s at 1M accounts). Here the statistics
// know only items that lapse in 30 days, 20,000 items lapse in 2 days, and the batch runs
// "3 days from now": the expiry index may find the candidates once, never a second time.
TEST(SweepPlans, ABatchReachesItsRowsByPrimaryKeyWhenStatisticsPredateTheLapse) {
  Printed p = print_statements();
  ASSERT_EQ(p.exit_code, 0) << p.raw;
  RunningService svc = start_service({{"USERSERVICE_EXPIRY_SWEEP_INTERVAL", "1h"}});
  ASSERT_TRUE(svc.process->running());
  // One sanction, one limit and one paid plan per user of `users` (user_id, at): each ends
  // at `at`.
  const auto items_of = [](const std::string& users) {
    return "INSERT INTO \"user\".sanction_active SELECT user_id, 'login_block', 'r', 'system', "
           "'t', now(), at FROM " +
           users +
           ";"
           "INSERT INTO \"user\".limit_active SELECT user_id, 'max_active_game_memberships', 3, "
           "'r', 'system', 't', now(), at FROM " +
           users +
           ";"
           "INSERT INTO \"user\".entitlement_snapshots (user_id, plan_code, is_paid, starts_at, "
           "ends_at) SELECT user_id, 'paid_monthly', true, now(), at FROM " +
           users + ";";
  };
  svc.sql(R"(
    ALTER TABLE "user".sanction_active SET (autovacuum_enabled = false);
    ALTER TABLE "user".limit_active SET (autovacuum_enabled = false);
    ALTER TABLE "user".entitlement_snapshots SET (autovacuum_enabled = false);
    INSERT INTO "user".accounts (user_id, email, user_name)
      SELECT 'sweep-' || i, 'sweep-' || i || '@example.test', 'sweep_' || i
        FROM generate_series(1, 20200) i;
    CREATE TEMP TABLE known AS
      SELECT 'sweep-' || i AS user_id, now() + interval '30 days' + i * interval '1 s' AS at
        FROM generate_series(1, 200) i;
    CREATE TEMP TABLE lapse AS
      SELECT 'sweep-' || i AS user_id, now() + interval '2 days' + i * interval '1 ms' AS at
        FROM generate_series(201, 20200) i;)" +
          items_of("known") + R"(
    ANALYZE "user".accounts, "user".sanction_active, "user".limit_active,
            "user".entitlement_snapshots;)" +
          items_of("lapse"));
  const std::string at = svc.sql("SELECT \"user\".epoch_us(now() + interval '3 days')")[0][0];
  struct Case {
    const char* statement;
    const char* expiry_index;
    const char* extra_args;
  };
  for (const Case& c :
       {Case{"sweep_sanctions", "sanction_active_expiry_idx", ", 'login_block'"},
        Case{"sweep_limits", "limit_active_expiry_idx", ""},
        Case{"sweep_entitlements", "entitlement_snapshots_paid_ends_user_idx", ", 'free'"}}) {
    std::string sql;
    for (const auto& [name, text] : p.statements) {
      if (name == c.statement) sql = text;
    }
    ASSERT_FALSE(sql.empty()) << c.statement;
    for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
      // The plan is what PostgreSQL would run: the same statement, prepared as the pool does.
      const auto plan =
          svc.sql(std::string("SET plan_cache_mode = ") + mode + "; PREPARE sweep AS " + sql +
                  "; EXPLAIN EXECUTE sweep(" + at +
                  ", '{}', 500, 'expired', 'system', 'expiry-sweeper'" + c.extra_args + ")");
      std::string text;
      int uses = 0;
      for (const auto& row : plan) {
        text += row.at(0) + "\n";
        if (row.at(0).find(c.expiry_index) != std::string::npos) ++uses;
      }
      EXPECT_LE(uses, 1) << c.statement << " (" << mode << ") uses " << c.expiry_index
                         << " beyond finding its candidates:\n"
                         << text;
    }
  }
}
