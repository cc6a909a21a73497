// `userservice --print-statements` (src/adapters/postgres/statements.h): the hidden flag that
// bench/ builds its pgbench scripts from. It must print valid JSON lines without any
// configuration, and every printed statement must be SQL that PostgreSQL accepts against the
// migrated schema, since pgbench runs it verbatim.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <set>
#include <sstream>

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
  // The statements of the benchmarked hot paths (bench/hot/driver.py), and one of the
  // admin command store, so that both stores are listed.
  for (const char* name : {"account_state_by_id", "live_account_states", "email_facts",
                           "ensure_account", "update_settings", "grant_entitlement"}) {
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
  for (std::size_t i = 0; i < p.statements.size(); ++i) {
    const auto& [name, sql] = p.statements[i];
    EXPECT_NO_THROW(svc.sql("PREPARE s" + std::to_string(i) + " AS " + sql)) << name;
  }
}
