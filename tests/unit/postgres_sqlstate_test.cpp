// The SQLSTATE predicates of the postgres adapter (src/adapters/postgres/sqlstate.h): which
// server errors end a session and which are one statement's failure.
#include <gtest/gtest.h>

#include "adapters/postgres/sqlstate.h"

namespace {

namespace sqlstate = userservice::postgres::sqlstate;

TEST(PostgresSqlState, NamedCodes) {
  EXPECT_TRUE(sqlstate::is_unique_violation("23505"));
  EXPECT_FALSE(sqlstate::is_unique_violation("23503"));
  EXPECT_TRUE(sqlstate::is_query_canceled("57014"));
  EXPECT_TRUE(sqlstate::is_invalid_statement_name("26000"));
  EXPECT_TRUE(sqlstate::is_deadline_passed("UD001"));
  EXPECT_FALSE(sqlstate::is_deadline_passed("P0001"));
}

TEST(PostgresSqlState, ConnectionFailures) {
  EXPECT_TRUE(sqlstate::is_connection_failure("", "ERROR"));        // libpq's own: link lost
  EXPECT_TRUE(sqlstate::is_connection_failure("08006", "ERROR"));   // connection failure
  EXPECT_FALSE(sqlstate::is_connection_failure("08P01", "ERROR"));  // wrong parameter count
  EXPECT_TRUE(sqlstate::is_connection_failure("57P01", "FATAL"));   // admin shutdown
  EXPECT_TRUE(sqlstate::is_connection_failure("57P03", "ERROR"));   // cannot connect now
  EXPECT_TRUE(sqlstate::is_connection_failure("XX000", "PANIC"));
  EXPECT_TRUE(sqlstate::is_connection_failure("25P03", "FATAL"));   // idle session timeout
  EXPECT_FALSE(sqlstate::is_connection_failure("57014", "ERROR"));  // statement timeout
  EXPECT_FALSE(sqlstate::is_connection_failure("23505", "ERROR"));
}

}  // namespace
