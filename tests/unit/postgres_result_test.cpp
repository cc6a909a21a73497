// The adapter core's typed reads (Result::text, boolean, int64, ...), named SQL errors and
// array parameters (adapters/postgres/pool.h). Results are built in memory with libpq's own
// result-construction calls, typed as the server would type them.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/postgres/pool.h"

namespace {

using userservice::postgres::Result;
using userservice::postgres::SqlError;

constexpr Oid kBool = 16;
constexpr Oid kInt8 = 20;
constexpr Oid kInt4 = 23;
constexpr Oid kText = 25;

struct Column {
  const char* name;
  Oid type;
};

// One row; nullopt is NULL.
Result make_result(const std::vector<Column>& columns,
                   const std::vector<std::optional<std::string>>& row) {
  PGresult* res = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  std::vector<PGresAttDesc> attrs;
  for (const Column& c : columns) {
    attrs.push_back(PGresAttDesc{const_cast<char*>(c.name), 0, 0, 0, c.type, -1, -1});
  }
  EXPECT_EQ(PQsetResultAttrs(res, static_cast<int>(attrs.size()), attrs.data()), 1);
  for (std::size_t i = 0; i < row.size(); ++i) {
    const auto& v = row[i];
    EXPECT_EQ(PQsetvalue(res, 0, static_cast<int>(i), v ? const_cast<char*>(v->c_str()) : nullptr,
                         v ? static_cast<int>(v->size()) : -1),
              1);
  }
  return Result(res);
}

TEST(PostgresResult, TypedReadsDecodeTheServersTextForms) {
  const Result r = make_result(
      {{"user_id", kText}, {"deleted", kBool}, {"paid", kBool}, {"count", kInt8}, {"value", kInt4}},
      {"u-1", "t", "f", "-9007199254740993", "42"});
  EXPECT_EQ(r.text(0, 0), "u-1");
  EXPECT_EQ(r.opt_text(0, 0), "u-1");
  EXPECT_TRUE(r.boolean(0, 1));
  EXPECT_FALSE(r.boolean(0, 2));
  EXPECT_EQ(r.int64(0, 3), -9007199254740993);
  EXPECT_EQ(r.opt_int64(0, 4), 42);
  EXPECT_EQ(r.text(0, 4), "42");  // any type reads as its text form
}

TEST(PostgresResult, NullIsNulloptOrAnError) {
  const Result r = make_result({{"country", kText}, {"ends_at", kInt8}, {"paid", kBool}},
                               {std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(r.opt_text(0, 0), std::nullopt);
  EXPECT_EQ(r.opt_int64(0, 1), std::nullopt);
  EXPECT_THROW(r.text(0, 0), std::logic_error);
  EXPECT_THROW(r.int64(0, 1), std::logic_error);
  EXPECT_THROW(r.boolean(0, 2), std::logic_error);
}

TEST(PostgresResult, AMismatchedTypeOrPositionIsAnInternalErrorNamingTheColumn) {
  const Result r =
      make_result({{"deleted", kText}, {"count", kText}, {"n", kInt8}}, {"t", "12", "1x"});
  try {
    (void)r.boolean(0, 0);
    FAIL() << "a text column read as a boolean";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("deleted"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.int64(0, 1), std::logic_error);     // text, even if it looks like a number
  EXPECT_THROW(r.int64(0, 2), std::logic_error);     // not an integer's text
  EXPECT_THROW(r.text(0, 3), std::logic_error);      // no such column
  EXPECT_THROW(r.opt_text(1, 0), std::logic_error);  // no such row
  EXPECT_THROW(Result().text(0, 0), std::logic_error);
}

TEST(PostgresResult, SqlErrorsAreToldApartByName) {
  const SqlError taken("duplicate key", "23505", "accounts_user_name_key", "update_user_name", "");
  EXPECT_TRUE(userservice::postgres::is_unique_violation(taken, "accounts_user_name_key"));
  EXPECT_FALSE(userservice::postgres::is_unique_violation(taken, "idempotency_keys_pkey"));
  const SqlError other("check", "23514", "accounts_user_name_key", "update_user_name", "");
  EXPECT_FALSE(userservice::postgres::is_unique_violation(other, "accounts_user_name_key"));
}

TEST(PostgresResult, ArrayParametersQuoteEveryTextItem) {
  const std::vector<std::string> ids = {"u-1", "NULL", "a\"b\\c"};
  EXPECT_EQ(userservice::postgres::text_array(ids), R"({"u-1","NULL","a\"b\\c"})");
  EXPECT_EQ(userservice::postgres::text_array(std::vector<std::string>{}), "{}");
  const std::vector<std::string_view> keys = {"x", "y"};
  EXPECT_EQ(userservice::postgres::text_array(keys), R"({"x","y"})");
  const std::vector<std::int64_t> seqs = {1, -2, 9007199254740993};
  EXPECT_EQ(userservice::postgres::bigint_array(seqs), "{1,-2,9007199254740993}");
}

}  // namespace
