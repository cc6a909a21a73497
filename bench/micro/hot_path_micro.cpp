// Micro-benchmarks of per-request work that is pure CPU (docs/benchmarks.md, "Micro-benchmarks").
//   cmake -S . -B build-micro -G Ninja -DCMAKE_BUILD_TYPE=Release -DUSERSERVICE_BENCH=ON
//   cmake --build build-micro --target userservice_micro && build-micro/bench/userservice_micro
#include <benchmark/benchmark.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "adapters/http/handlers/views.h"
#include "domain/account.h"
#include "telemetry/metrics.h"

namespace {

using namespace userservice;

// What Metrics::http_request_finished did before it cached its series (commit e4007ca):
// a label map and Family::Add per call, which allocates a fresh series before finding the
// existing one.
void BM_RequestMetrics_FamilyAddPerCall(benchmark::State& state) {
  prometheus::Registry registry;
  auto& count = prometheus::BuildCounter().Name("requests_total").Register(registry);
  auto& duration = prometheus::BuildHistogram().Name("duration_seconds").Register(registry);
  const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  for (auto _ : state) {
    prometheus::Labels labels{{"server", "internal"},
                              {"route", "/api/v1/internal/users/{user_id}/account"},
                              {"method", "GET"},
                              {"status_class", "2xx"}};
    count.Add(labels).Increment();
    duration.Add(labels, buckets).Observe(0.001);
  }
}
BENCHMARK(BM_RequestMetrics_FamilyAddPerCall);

// The service's path now: started + finished, series looked up by a reused key.
void BM_RequestMetrics_Cached(benchmark::State& state) {
  telemetry::Metrics metrics;
  for (auto _ : state) {
    metrics.http_request_started("internal");
    metrics.http_request_finished("internal", "/api/v1/internal/users/{user_id}/account", "GET",
                                  200, 0.001);
  }
}
BENCHMARK(BM_RequestMetrics_Cached);

void BM_StatementMetric_Cached(benchmark::State& state) {
  telemetry::Metrics metrics;
  for (auto _ : state) metrics.db_query("account_state_by_id", 0.0005, true);
}
BENCHMARK(BM_StatementMetric_Cached);

domain::AccountState sample_state() {
  domain::AccountState s;
  s.account.user_id = "user-01HZY3K9M2Q8W7E6R5T4Y3U2I1";
  s.account.email = "player.one@example.com";
  s.account.user_name = "player-one";
  s.account.preferred_language = "en";
  s.account.time_zone = "Europe/Berlin";
  s.account.declared_country = "DE";
  s.entitlement.plan_code = "free";
  return s;
}

// The account view body (api.md §4): the largest hot-path response.
void BM_AccountViewJson(benchmark::State& state) {
  const domain::AccountState s = sample_state();
  for (auto _ : state) benchmark::DoNotOptimize(http::account_view_json(s));
}
BENCHMARK(BM_AccountViewJson);

}  // namespace

BENCHMARK_MAIN();
