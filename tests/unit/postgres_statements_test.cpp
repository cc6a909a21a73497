// Every named statement declares whether it writes (Statement::access): the pool answers a
// write whose outcome it could not learn with 504 ("may have happened") and a read with 503.
// A write declared as a read would turn a possibly committed change into "nothing happened",
// so the declaration is checked against the SQL itself.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "adapters/postgres/pool.h"
#include "adapters/postgres/statements.h"

namespace {

using userservice::postgres::Access;

// INSERT, UPDATE or DELETE as a keyword, not counting row locks ("FOR UPDATE"), or COMMIT
// (it commits what the transaction wrote).
bool modifies_data(std::string_view sql) {
  std::string upper;
  for (char c : sql) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::regex dml(R"((^|[^A-Z_])(INSERT|UPDATE|DELETE|COMMIT)([^A-Z_]|$))");
  static const std::regex lock(R"(FOR\s+(NO\s+KEY\s+)?UPDATE)");
  const std::string without_locks = std::regex_replace(upper, lock, "FOR LOCK");
  return std::regex_search(without_locks, dml);
}

TEST(PostgresStatements, ModifiesDataRecognisesWritesAndRowLocks) {
  EXPECT_TRUE(modifies_data("WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1"));
  EXPECT_TRUE(modifies_data("update t set a = 1"));
  EXPECT_TRUE(modifies_data("DELETE FROM t"));
  EXPECT_FALSE(modifies_data("SELECT 1 FROM t WHERE a = $1 FOR UPDATE"));
  EXPECT_FALSE(modifies_data("SELECT updated_at, deleted_at FROM t FOR NO KEY UPDATE SKIP LOCKED"));
  EXPECT_TRUE(modifies_data("SELECT 1 FOR UPDATE; UPDATE t SET a = 1"));
  EXPECT_TRUE(modifies_data("COMMIT"));
  EXPECT_FALSE(modifies_data("ROLLBACK"));
}

TEST(PostgresStatements, EveryStatementDeclaresWhetherItWrites) {
  const auto statements = userservice::postgres::all_statements();
  ASSERT_FALSE(statements.empty());
  for (const auto* s : statements) {
    EXPECT_EQ(s->access == Access::write, modifies_data(s->sql)) << s->name;
  }
}

// The registry is generated from the .sql files (cmake/embed_statements.cmake): one
// statement per file outside fragments/, named like its file, with its fragments expanded.
TEST(PostgresStatements, TheRegistryHoldsOneStatementPerSqlFile) {
  std::set<std::string> files;
  const std::filesystem::path dir =
      std::filesystem::path(USERSERVICE_SOURCE_DIR) / "src/adapters/postgres/sql";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto& path = entry.path();
    if (path.extension() != ".sql" || path.parent_path().filename() == "fragments") continue;
    EXPECT_TRUE(files.insert(path.stem().string()).second) << path;
  }
  std::set<std::string> names;
  for (const auto* s : userservice::postgres::all_statements()) {
    EXPECT_TRUE(names.insert(std::string(s->name)).second) << s->name;
    EXPECT_EQ(s->sql.find("-- include:"), std::string_view::npos) << s->name;
    if (s->coalesced != nullptr) EXPECT_GE(s->coalesced_key, 0) << s->name;
  }
  EXPECT_EQ(names, files);
}

}  // namespace
