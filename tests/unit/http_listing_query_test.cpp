// The admin listing's query string (adapters/http/listing_query.h): every parameter, its
// bounds, and what is rejected.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "adapters/http/listing_query.h"
#include "domain/error.h"
#include "domain/time.h"

namespace {

using namespace userservice;
using services::ListingFilter;
using services::ListingRequest;
using Pairs = std::vector<std::pair<std::string, std::string>>;

ListingRequest parse(const Pairs& pairs) { return http::parse_listing_query(pairs); }

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

}  // namespace
