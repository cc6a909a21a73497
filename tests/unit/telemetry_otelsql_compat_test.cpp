// db.sql.connection.* against a fixture written from Go's otelsql documentation
// (tests/fixtures/otelsql_dbstats.txt): the same names, kinds, units and attributes on the
// Prometheus exposition and on the OTLP side, and the values otelsql would report.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "support/prom_parser.h"
#include "telemetry/metrics.h"
#include "telemetry/otlp.h"

using namespace userservice;
using userservice::testing::parse_prometheus_text;

namespace {

struct Expected {
  std::string side, name, kind, unit;
  std::set<std::string> attributes;
};

std::vector<Expected> fixture() {
  std::ifstream in(std::string(USERSERVICE_SOURCE_DIR) + "/tests/fixtures/otelsql_dbstats.txt");
  std::vector<Expected> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    Expected e;
    std::string attrs;
    words >> e.side >> e.name >> e.kind;
    if (e.side == "otel") words >> e.unit;
    words >> attrs;
    if (e.unit == "-") e.unit.clear();
    for (std::size_t start = 0; start <= attrs.size();) {
      const std::size_t comma = attrs.find(',', start);
      e.attributes.insert(attrs.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    out.push_back(std::move(e));
  }
  return out;
}

telemetry::Metrics::DbPoolSnapshot snapshot() {
  telemetry::Metrics::DbPoolSnapshot s;
  s.idle = 3;
  s.in_use = 2;
  s.max_open = 20;
  s.wait_count = 7;
  s.wait_seconds = 1.25;
  s.closed_max_idle = 4;
  s.closed_max_idle_time = 5;
  s.closed_max_lifetime = 6;
  return s;
}

}  // namespace

TEST(OtelsqlCompat, FixtureIsComplete) {
  const auto expected = fixture();
  EXPECT_EQ(
      std::count_if(expected.begin(), expected.end(), [](auto& e) { return e.side == "otel"; }), 7);
  EXPECT_EQ(
      std::count_if(expected.begin(), expected.end(), [](auto& e) { return e.side == "prom"; }), 7);
}

TEST(OtelsqlCompat, PrometheusExpositionMatchesTheFixture) {
  telemetry::Metrics metrics;
  metrics.db_pool("primary", snapshot());
  const auto parsed = parse_prometheus_text(metrics.serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.error_text();
  for (const auto& e : fixture()) {
    if (e.side != "prom") continue;
    const auto* family = parsed.family(e.name);
    ASSERT_NE(family, nullptr) << e.name;
    EXPECT_EQ(family->type, e.kind) << e.name;
    ASSERT_FALSE(family->samples.empty()) << e.name;
    for (const auto& sample : family->samples) {
      std::set<std::string> labels;
      for (const auto& [k, v] : sample.labels) labels.insert(k);
      EXPECT_EQ(labels, e.attributes) << e.name;
    }
  }
  // The values otelsql reports for the same stats: status idle/inuse, wait in milliseconds.
  const auto* open = parsed.family("db_sql_connection_open");
  ASSERT_NE(open, nullptr);
  std::set<std::string> statuses;
  for (const auto& s : open->samples) statuses.insert(s.label("status"));
  EXPECT_EQ(statuses, (std::set<std::string>{"idle", "inuse"}));
  EXPECT_EQ(open->find("", {{"status", "inuse"}}).at(0)->value, 2);
  EXPECT_EQ(open->find("", {{"status", "idle"}}).at(0)->value, 3);
  EXPECT_DOUBLE_EQ(
      parsed.family("db_sql_connection_wait_duration_milliseconds_total")->samples.at(0).value,
      1250.0);
  EXPECT_EQ(parsed.family("db_sql_connection_closed_max_idle_time_total")->samples.at(0).value, 5);
  // The retired names are gone.
  EXPECT_EQ(parsed.family("db_sql_connection_wait_duration_seconds_total"), nullptr);
}

TEST(OtelsqlCompat, OtlpMetricsMatchTheFixture) {
  telemetry::Metrics metrics;
  metrics.db_pool("primary", snapshot());
  const auto families = metrics.collect();
  const auto otel = telemetry::to_otel_metrics(families);
  for (const auto& e : fixture()) {
    if (e.side != "otel") continue;
    const auto it =
        std::find_if(otel.begin(), otel.end(), [&](const auto& m) { return m.name == e.name; });
    ASSERT_NE(it, otel.end()) << e.name;
    EXPECT_EQ(it->unit, e.unit) << e.name;
    if (e.kind == "gauge") {
      EXPECT_EQ(it->kind, telemetry::MetricKind::gauge) << e.name;
    } else {
      EXPECT_EQ(it->kind, telemetry::MetricKind::sum) << e.name;
      EXPECT_TRUE(it->monotonic) << e.name;
    }
    ASSERT_FALSE(it->points.empty()) << e.name;
    for (const auto& p : it->points) {
      std::set<std::string> keys;
      for (const auto& [k, v] : p.attributes) keys.insert(k);
      EXPECT_EQ(keys, e.attributes) << e.name;
    }
  }
  const auto wait = std::find_if(otel.begin(), otel.end(), [](const auto& m) {
    return m.name == "db.sql.connection.wait_duration";
  });
  ASSERT_NE(wait, otel.end());
  EXPECT_DOUBLE_EQ(wait->points.at(0).value, 1250.0);
}
