// The pure parts of the admin listing: query-parameter parsing, the filter scope
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

#include "adapters/postgres/listing_store.h"
#include "domain/error.h"
#include "domain/page_token.h"
#include "domain/time.h"
#include "services/listing.h"

namespace {

using namespace userservice;
using services::ListingFilter;
using services::ListingRequest;
using Pairs = std::vector<std::pair<std::string, std::string>>;
namespace shape = postgres::listing_shape;

ListingRequest parse(const Pairs& pairs) { return services::parse_listing_query(pairs); }

// The message of the invalid_request a parse throws ("" when it does not throw).
std::string rejection(const Pairs& pairs) {
  try {
    parse(pairs);
  } catch (const domain::Error& e) {
    EXPECT_EQ(e.code(), domain::ErrorCode::invalid_request);
    return e.message();
  }
  return "";
}

domain::TimePoint at(const char* text) { return *domain::parse_rfc3339(text); }

// ---- Query parameters -----------------------------------------------------------------------

TEST(ListingQuery, DefaultsWithoutParameters) {
  ListingRequest r = parse({});
  EXPECT_EQ(r.page_size, 50);
  EXPECT_FALSE(r.page_token);
  EXPECT_EQ(r.filter, ListingFilter{});
  EXPECT_FALSE(r.filter.include_deleted);
}

TEST(ListingQuery, EveryParameter) {
  ListingRequest r = parse({{"page_size", "200"},
                            {"page_token", "abc"},
                            {"plan_code", "paid_monthly"},
                            {"is_paid", "true"},
                            {"paid_ends_before", "2026-12-01T00:00:00+02:00"},
                            {"declared_country", "DE"},
                            {"sanction_code", "login_block"},
                            {"limit_code", "max_owned_private_games"},
                            {"created_after", "2025-01-01T00:00:00Z"},
                            {"created_before", "2026-01-01T00:00:00.123456789Z"},
                            {"include_deleted", "true"}});
  EXPECT_EQ(r.page_size, 200);
  EXPECT_EQ(r.page_token, "abc");
  EXPECT_EQ(r.filter.plan_code, "paid_monthly");
  EXPECT_EQ(r.filter.is_paid, true);
  EXPECT_EQ(r.filter.paid_ends_before, at("2026-11-30T22:00:00Z"));
  EXPECT_EQ(r.filter.declared_country, "DE");
  EXPECT_EQ(r.filter.sanction_code, "login_block");
  EXPECT_EQ(r.filter.limit_code, "max_owned_private_games");
  EXPECT_EQ(r.filter.created_after, at("2025-01-01T00:00:00Z"));
  // Kept at the database's precision (µs), so the token scope and the SQL agree.
  EXPECT_EQ(r.filter.created_before, at("2026-01-01T00:00:00.123456Z"));
  EXPECT_TRUE(r.filter.include_deleted);
}

TEST(ListingQuery, PageSizeBounds) {
  EXPECT_EQ(parse({{"page_size", "1"}}).page_size, 1);
  EXPECT_EQ(parse({{"page_size", "007"}}).page_size, 7);
  for (const char* bad : {"0", "201", "-1", "+5", "abc", "", " 5", "5 ", "1e2", "2.0",
                          "99999999999999999999", "0x10"}) {
    EXPECT_EQ(rejection({{"page_size", bad}}), "page_size must be an integer from 1 to 200") << bad;
  }
}

TEST(ListingQuery, BooleansAreExactlyTrueOrFalse) {
  EXPECT_EQ(parse({{"is_paid", "false"}}).filter.is_paid, false);
  EXPECT_FALSE(parse({{"include_deleted", "false"}}).filter.include_deleted);
  for (const char* bad : {"1", "0", "True", "FALSE", "yes", ""}) {
    EXPECT_EQ(rejection({{"is_paid", bad}}), "is_paid must be true or false") << bad;
    EXPECT_EQ(rejection({{"include_deleted", bad}}), "include_deleted must be true or false");
  }
}

TEST(ListingQuery, TimestampsAreRfc3339) {
  for (const char* name : {"paid_ends_before", "created_after", "created_before"}) {
    for (const char* bad : {"2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01 00:00:00Z",
                            "1700000000", "", "2026-01-01T00:00:00"}) {
      EXPECT_NE(rejection({{name, bad}}), "") << name << "=" << bad;
    }
  }
}

TEST(ListingQuery, CodesComeFromTheCatalog) {
  EXPECT_EQ(parse({{"plan_code", "free"}}).filter.plan_code, "free");
  EXPECT_EQ(rejection({{"plan_code", "gold"}}), "unknown plan_code gold");
  EXPECT_EQ(rejection({{"plan_code", "FREE"}}), "unknown plan_code FREE");
  EXPECT_EQ(rejection({{"sanction_code", "mute"}}), "unknown sanction_code mute");
  EXPECT_EQ(rejection({{"limit_code", "max_games"}}), "unknown limit_code max_games");
  EXPECT_EQ(rejection({{"plan_code", ""}}), "unknown plan_code");
  // A long value is not echoed.
  EXPECT_EQ(rejection({{"sanction_code", std::string(100, 'x')}}), "unknown sanction_code");
}

TEST(ListingQuery, CountriesAreAssignedUpperCaseCodes) {
  EXPECT_EQ(parse({{"declared_country", "LI"}}).filter.declared_country, "LI");
  for (const char* bad : {"de", "De", "XK", "UK", "DEU", "", "D"}) {
    EXPECT_NE(rejection({{"declared_country", bad}}), "") << bad;
  }
}

TEST(ListingQuery, UnknownAndRepeatedParameters) {
  EXPECT_EQ(rejection({{"plan", "free"}}), "unknown query parameter plan");
  EXPECT_EQ(rejection({{"Page_Size", "5"}}), "unknown query parameter Page_Size");
  EXPECT_EQ(rejection({{"", "x"}}), "unknown query parameter");
  EXPECT_EQ(rejection({{std::string(65, 'p'), "1"}}), "unknown query parameter");
  for (const char* name :
       {"page_size", "page_token", "plan_code", "is_paid", "paid_ends_before", "declared_country",
        "sanction_code", "limit_code", "created_after", "created_before", "include_deleted"}) {
    Pairs valid = {{"page_size", "5"},
                   {"page_token", "t"},
                   {"plan_code", "free"},
                   {"is_paid", "false"},
                   {"paid_ends_before", "2026-01-01T00:00:00Z"},
                   {"declared_country", "DE"},
                   {"sanction_code", "login_block"},
                   {"limit_code", "max_active_game_memberships"},
                   {"created_after", "2026-01-01T00:00:00Z"},
                   {"created_before", "2026-01-01T00:00:00Z"},
                   {"include_deleted", "false"}};
    auto it = std::find_if(valid.begin(), valid.end(), [&](auto& p) { return p.first == name; });
    Pairs twice = {*it, *it};
    EXPECT_EQ(rejection(twice), std::string(name) + " given more than once");
  }
  EXPECT_EQ(rejection({{"page_token", ""}}), "page_token is invalid");
}

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
                        ((s & shape::kPlan) && !(s & shape::kPlanFree)) ||
                        (s & shape::kIsPaidTrue);
    EXPECT_EQ(st.sql.find("   ORDER BY a.created_at DESC, a.user_id DESC\n   LIMIT") ==
                  std::string::npos,
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
// (The source directory, not __FILE__: under CCACHE_BASEDIR that is relative to the build
// directory, and ctest runs this from another one.)
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
