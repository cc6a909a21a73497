#include "domain/locale.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "domain/error.h"

using namespace userservice::domain;

namespace {

template <typename F>
std::string rejection(F&& require, std::string_view value) {
  try {
    require(value);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    return e.message();
  }
  return "";
}

}  // namespace

TEST(DomainLocale, AcceptsLanguagesAndLanguageRegionTags) {
  for (std::string_view ok : {"en", "de", "pt", "zh", "he", "yi", "pt-BR", "en-US", "en-GB",
                              "zh-TW", "de-AT", "fr-CA", "es-MX", "sr-RS"}) {
    EXPECT_TRUE(is_valid_language(ok)) << ok;
    EXPECT_NO_THROW(require_valid_language(ok)) << ok;
  }
}

TEST(DomainLocale, RejectsLanguagesOutsideTheSubset) {
  for (std::string_view bad : {"",
                               "e",
                               "eng",
                               "EN",
                               "En",
                               "pt-br",
                               "PT-BR",
                               "pt_BR",
                               "pt-BRA",
                               "pt-",
                               "-BR",
                               "en-US-x",
                               "qq" /* unassigned */,
                               "xx",
                               "en-XK" /* user-assigned region */,
                               "en-UK",
                               "en-419",
                               "zh-Hant",
                               "en ",
                               " en",
                               "en\n",
                               "iw" /* withdrawn, now he */,
                               "en-12"}) {
    EXPECT_FALSE(is_valid_language(bad)) << bad;
    const std::string message = rejection(require_valid_language, bad);
    EXPECT_NE(message.find("preferred_language"), std::string::npos) << bad << ": " << message;
  }
}

TEST(DomainLocale, AcceptsCanonicalAndLinkTimeZones) {
  for (std::string_view ok : {"UTC",
                              "Etc/UTC",
                              "Etc/GMT",
                              "GMT",
                              "Europe/Berlin",
                              "America/New_York",
                              "America/Argentina/Buenos_Aires",
                              "America/Indiana/Indianapolis",
                              "Asia/Kolkata",
                              "Asia/Calcutta",
                              "Europe/Kyiv",
                              "Europe/Kiev",
                              "US/Pacific",
                              "Etc/GMT+5",
                              "Etc/GMT-14",
                              "Pacific/Chatham",
                              "Australia/Lord_Howe",
                              "Antarctica/Troll",
                              "Zulu",
                              "Universal",
                              "America/Port-au-Prince",
                              "EST5EDT"}) {
    EXPECT_TRUE(is_valid_time_zone(ok)) << ok;
    EXPECT_NO_THROW(require_valid_time_zone(ok)) << ok;
  }
}

TEST(DomainLocale, RejectsUnknownOrMisspelledTimeZones) {
  for (std::string_view bad : {"",
                               "Factory",
                               "utc",
                               "europe/berlin",
                               "Europe/berlin",
                               "Europe/Berlin ",
                               " UTC",
                               "Europe/Berlin/",
                               "Mars/Olympus_Mons",
                               "Europe",
                               "America/Argentina",
                               "CEST",
                               "+02:00",
                               "UTC+2",
                               "posixrules",
                               "localtime",
                               "right/UTC",
                               "posix/UTC",
                               "../etc/passwd",
                               "Europe/Berlin\n",
                               "Etc/GMT+15"}) {
    EXPECT_FALSE(is_valid_time_zone(bad)) << bad;
    const std::string message = rejection(require_valid_time_zone, bad);
    EXPECT_NE(message.find("time_zone"), std::string::npos) << bad << ": " << message;
  }
}

TEST(DomainLocale, CountriesAreAssignedAlpha2InUpperCase) {
  for (std::string_view ok : {"DE", "US", "GB", "BR", "JP", "AQ", "SS", "CW", "PS", "TW"}) {
    EXPECT_TRUE(is_valid_country(ok)) << ok;
    EXPECT_NO_THROW(require_valid_country(ok)) << ok;
  }
  for (std::string_view bad : {"", "D", "de", "De", "DEU", "276", "UK", "EU", "XK", "ZZ", "AA",
                               "YU" /* withdrawn */, "AN", "D E", "DE "}) {
    EXPECT_FALSE(is_valid_country(bad)) << bad;
    const std::string message = rejection(require_valid_country, bad);
    EXPECT_NE(message.find("declared_country"), std::string::npos) << bad << ": " << message;
  }
}

TEST(DomainLocale, ReferenceDataIsCompleteAndSorted) {
  const auto zones = known_time_zones();
  const auto countries = known_countries();
  const auto languages = known_languages();
  // tzdata has ~600 names, ISO 3166-1 249 countries, ISO 639-1 ~184 languages.
  EXPECT_GT(zones.size(), 550u);
  EXPECT_EQ(countries.size(), 249u);
  EXPECT_GT(languages.size(), 180u);
  EXPECT_TRUE(std::is_sorted(zones.begin(), zones.end()));
  EXPECT_TRUE(std::adjacent_find(zones.begin(), zones.end()) == zones.end());
  for (std::string_view c : countries) {
    EXPECT_TRUE(c.size() == 2 &&
                std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }))
        << c;
  }
  for (std::string_view l : languages) {
    EXPECT_TRUE(l.size() == 2 &&
                std::all_of(l.begin(), l.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; }))
        << l;
  }
  // Every listed entry is accepted (binary search finds the first and the last).
  for (std::string_view z : zones) EXPECT_TRUE(is_valid_time_zone(z)) << z;
  for (std::string_view c : countries) EXPECT_TRUE(is_valid_country(c)) << c;
  for (std::string_view l : languages) EXPECT_TRUE(is_valid_language(l)) << l;
}
