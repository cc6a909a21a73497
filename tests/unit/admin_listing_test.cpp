// The pure parts of the admin listing: the filter scope
// page tokens are bound to, the keyset cursor codec, and the generated SQL statements —
// including the copies in bench/listing/sql that bench/listing/explain.sh runs, which must
// be exactly what the service sends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "adapters/http/listing_query.h"
#include "adapters/postgres/listing_store.h"
#include "domain/error.h"
#include "domain/page_token.h"
#include "domain/time.h"
#include "services/listing_service.h"

namespace {

using namespace userservice;
using services::ListingFilter;
using services::ListingRequest;
using Pairs = std::vector<std::pair<std::string, std::string>>;
namespace shape = postgres::listing_shape;

// Filters as the listing route builds them (the parsing is tested in http_listing_query_test).
ListingRequest parse(const Pairs& pairs) { return http::parse_listing_query(pairs); }

domain::TimePoint at(const char* text) { return *domain::parse_rfc3339(text); }

// ---- Scope and tokens -----------------------------------------------------------------------

TEST(ListingScope, CanonicalPerFilterSet) {
  EXPECT_EQ(services::listing_scope({}), "listing?include_deleted=false");
  ListingFilter f = parse({{"include_deleted", "true"},
                           {"declared_country", "DE"},
                           {"created_after", "1970-01-01T00:00:01.5Z"},
                           {"plan_code", "free"}})
                        .filter;
  EXPECT_EQ(
      services::listing_scope(f),
      "listing?plan_code=free&declared_country=DE&created_after=1500000&include_deleted=true");
  // One instant spelled two ways is one filter; parameter order does not matter.
  ListingFilter a =
      parse({{"created_before", "2026-01-01T02:00:00+02:00"}, {"is_paid", "true"}}).filter;
  ListingFilter b = parse({{"is_paid", "true"}, {"created_before", "2026-01-01T00:00:00Z"}}).filter;
  EXPECT_EQ(services::listing_scope(a), services::listing_scope(b));
  // Any difference in the filters is a different scope.
  std::set<std::string> scopes;
  for (const Pairs& p : std::vector<Pairs>{{},
                                           {{"include_deleted", "true"}},
                                           {{"is_paid", "true"}},
                                           {{"is_paid", "false"}},
                                           {{"plan_code", "free"}},
                                           {{"plan_code", "paid_monthly"}},
                                           {{"sanction_code", "login_block"}},
                                           {{"limit_code", "max_owned_private_games"}},
                                           {{"declared_country", "DE"}},
                                           {{"declared_country", "FR"}},
                                           {{"created_after", "2026-01-01T00:00:00Z"}},
                                           {{"created_before", "2026-01-01T00:00:00Z"}},
                                           {{"paid_ends_before", "2026-01-01T00:00:00Z"}},
                                           {{"paid_ends_before", "2026-01-01T00:00:00.001Z"}}}) {
    EXPECT_TRUE(scopes.insert(services::listing_scope(parse(p).filter)).second);
  }
}

TEST(KeysetCursor, RoundTrip) {
  domain::KeysetCursor c{1764091102123456, "user-01jd0000000000000000000000", 3};
  std::string token = domain::encode_keyset_cursor("listing?x", c);
  EXPECT_LE(token.size(), domain::kMaxPageTokenLength);
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  domain::KeysetCursor d = domain::decode_keyset_cursor("listing?x", token);
  EXPECT_EQ(d.created_at_us, c.created_at_us);
  EXPECT_EQ(d.user_id, c.user_id);
  EXPECT_EQ(d.lane, 3);
  // Before 1970 and the longest id still round-trip.
  domain::KeysetCursor e{-5, std::string(64, 'z'), 255};
  domain::KeysetCursor f = domain::decode_keyset_cursor("s", domain::encode_keyset_cursor("s", e));
  EXPECT_EQ(f.created_at_us, -5);
  EXPECT_EQ(f.user_id, e.user_id);
  EXPECT_EQ(f.lane, 255);
}

void expect_invalid_token(std::string_view scope, const std::string& token) {
  try {
    domain::decode_keyset_cursor(scope, token);
    ADD_FAILURE() << "accepted " << token;
  } catch (const domain::Error& e) {
    EXPECT_EQ(e.code(), domain::ErrorCode::invalid_request);
    EXPECT_EQ(e.message(), "page_token is invalid");
  }
}

TEST(KeysetCursor, RejectsForeignTamperedAndMalformedTokens) {
  const std::string token =
      domain::encode_keyset_cursor("listing?a", {1764091102123456, "user-abc", 0});
  expect_invalid_token("listing?b", token);  // another filter set
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    expect_invalid_token("listing?a", t);
  }
  expect_invalid_token("listing?a", token.substr(0, token.size() - 1));
  expect_invalid_token("listing?a", token + "A");
  expect_invalid_token("listing?a", "");
  expect_invalid_token("listing?a", "!!!!");
  expect_invalid_token("listing?a", std::string(600, 'A'));
  // A history cursor sealed under the same scope text is not a listing cursor.
  expect_invalid_token("listing?a", domain::encode_record_cursor("listing?a", 7));
  // Sealed by us but with a user id the service could not have stored.
  expect_invalid_token("s", domain::encode_keyset_cursor("s", {1, "user id", 0}));
  expect_invalid_token("s", domain::encode_keyset_cursor("s", {1, std::string(65, 'a'), 0}));
  expect_invalid_token("s", domain::seal_page_token("s", std::string(9, '\0')));
}

// ---- Generated statements -------------------------------------------------------------------

TEST(ListingShape, FromFilter) {
  EXPECT_EQ(postgres::listing_shape_of({}, false), 0u);
  EXPECT_EQ(postgres::listing_shape_of({}, true), shape::kAfter);
  ListingFilter f;
  f.plan_code = "free";
  f.is_paid = false;
  EXPECT_EQ(postgres::listing_shape_of(f, false), shape::kPlan | shape::kPlanFree | shape::kIsPaid);
  f.plan_code = "paid_yearly";
  f.is_paid = true;
  f.include_deleted = true;
  f.declared_country = "DE";
  f.paid_ends_before = at("2026-01-01T00:00:00Z");
  f.sanction_code = "login_block";
  f.limit_code = "max_owned_private_games";
  f.created_after = f.created_before = at("2026-01-01T00:00:00Z");
  EXPECT_EQ(postgres::listing_shape_of(f, true), shape::kAll & ~shape::kPlanFree);
}

std::size_t count_placeholders(const std::string& sql) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$') continue;
    std::size_t j = i + 1;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) ++j;
    if (j > i + 1) seen.insert(sql.substr(i, j - i));
  }
  return seen.size();
}

TEST(ListingStatement, EveryValidShapeIsNamedAndNumberedConsistently) {
  std::set<std::string> names;
  int valid = 0;
  for (unsigned s = 0; s <= shape::kAll; ++s) {
    const bool ok = !((s & shape::kPlanFree) && !(s & shape::kPlan)) &&
                    !((s & shape::kIsPaidTrue) && !(s & shape::kIsPaid));
    if (!ok) {
      EXPECT_THROW(postgres::listing_statement(s), std::invalid_argument) << s;
      continue;
    }
    ++valid;
    const auto& st = postgres::listing_statement(s);
    EXPECT_EQ(&st, &postgres::listing_statement(s));  // stable storage
    EXPECT_EQ(st.statement.name, st.name);
    EXPECT_EQ(st.statement.sql, st.sql);
    EXPECT_TRUE(names.insert(st.name).second) << st.name;
    EXPECT_EQ(count_placeholders(st.sql), st.params.size()) << st.name;
    EXPECT_EQ(st.params.back(), postgres::ListingParam::limit);
    // Live-only unless asked; the keyset bound only with a cursor.
    EXPECT_EQ(st.sql.find("a.deleted_at IS NULL") != std::string::npos,
              !(s & shape::kIncludeDeleted));
    // (a.created_at, a.user_id) or the driving table's copy (s/l/e.account_created_at).
    EXPECT_EQ(st.sql.find(".user_id) < (") != std::string::npos, (s & shape::kAfter) != 0);
    const bool driven = (s & (shape::kSanction | shape::kLimit | shape::kPaidEndsBefore)) ||
                        ((s & shape::kPlan) && !(s & shape::kPlanFree)) || (s & shape::kIsPaidTrue);
    EXPECT_EQ(
        st.sql.find("   ORDER BY a.created_at DESC, a.user_id DESC\n   LIMIT") == std::string::npos,
        driven)
        << st.name;
    // The optional-filter anti-pattern never appears.
    EXPECT_EQ(st.sql.find("IS NULL OR a."), std::string::npos);
  }
  EXPECT_EQ(valid, 256 * 9);
  EXPECT_THROW(postgres::listing_statement(shape::kAll + 1), std::invalid_argument);
}

TEST(ListingStatement, FirstPageWithoutFilters) {
  const auto& st = postgres::listing_statement(0);
  EXPECT_EQ(st.name, "admin_list_users_000");
  EXPECT_EQ(st.params, std::vector<postgres::ListingParam>{postgres::ListingParam::limit});
  EXPECT_NE(st.sql.find("   WHERE a.deleted_at IS NULL\n   ORDER BY a.created_at DESC, "
                        "a.user_id DESC\n   LIMIT $1\n)"),
            std::string::npos)
      << st.sql;
  EXPECT_EQ(st.sql.find("entitlement_snapshots e ON e.user_id = a.user_id\n"), std::string::npos)
      << "no snapshot join in the page query without an entitlement filter";
  EXPECT_EQ(postgres::listing_statement(shape::kAll & ~shape::kPlanFree).name,
            "admin_list_users_fbf");
}

// bench/listing/sql/<statement name>.sql (and .params) hold the statements explain.sh runs.
// They must be exactly the service's; USERSERVICE_WRITE_LISTING_SQL=1 rewrites them
// (after a deliberate change of the generator).
// From the source directory, not __FILE__: with CCACHE_BASEDIR set, __FILE__ is relative to
// the build directory and the test would depend on ctest's working directory.
const std::filesystem::path kBenchSql =
    std::filesystem::path(USERSERVICE_SOURCE_DIR) / "bench" / "listing" / "sql";

std::string param_name(postgres::ListingParam p) {
  switch (p) {
    case postgres::ListingParam::now:
      return "now";
    case postgres::ListingParam::after_created_at:
      return "after_created_at";
    case postgres::ListingParam::after_user_id:
      return "after_user_id";
    case postgres::ListingParam::created_after:
      return "created_after";
    case postgres::ListingParam::created_before:
      return "created_before";
    case postgres::ListingParam::country:
      return "declared_country";
    case postgres::ListingParam::plan:
      return "plan_code";
    case postgres::ListingParam::paid_ends_before:
      return "paid_ends_before";
    case postgres::ListingParam::sanction:
      return "sanction_code";
    case postgres::ListingParam::limit_code:
      return "limit_code";
    case postgres::ListingParam::limit:
      return "limit";
  }
  return "?";
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ListingStatement, BenchCopiesAreTheServiceStatements) {
  ASSERT_TRUE(std::filesystem::is_directory(kBenchSql)) << kBenchSql;
  const bool rewrite = std::getenv("USERSERVICE_WRITE_LISTING_SQL") != nullptr;
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kBenchSql)) {
    const auto path = entry.path();
    if (path.extension() != ".sql") continue;
    const std::string name = path.stem().string();
    ASSERT_EQ(name.rfind("admin_list_users_", 0), 0u) << name;
    const unsigned s = std::stoul(name.substr(17), nullptr, 16);
    const auto& st = postgres::listing_statement(s);
    ASSERT_EQ(st.name, name);
    std::string params;
    for (auto p : st.params) params += param_name(p) + "\n";
    auto params_path = path;
    params_path.replace_extension(".params");
    if (rewrite) {
      std::ofstream(path, std::ios::binary) << st.sql;
      std::ofstream(params_path, std::ios::binary) << params;
    }
    EXPECT_EQ(read_file(path), st.sql) << name << ": run this test with "
                                       << "USERSERVICE_WRITE_LISTING_SQL=1 to refresh the copy";
    EXPECT_EQ(read_file(params_path), params) << name;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
