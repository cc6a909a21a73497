#include "telemetry/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <vector>

namespace userservice::telemetry {

namespace {
std::string_view status_class(unsigned status) {
  switch (status / 100) {
    case 1: return "1xx";
    case 2: return "2xx";
    case 3: return "3xx";
    case 4: return "4xx";
    default: return "5xx";
  }
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}
}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& http_requests =
      prometheus::BuildCounter()
          .Name("http_server_requests_total")
          .Help("HTTP requests served, by listener, route template, method and status class.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& http_duration =
      prometheus::BuildHistogram()
          .Name("http_server_request_duration_seconds")
          .Help("HTTP request duration from first byte read to response written.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& http_active =
      prometheus::BuildGauge()
          .Name("http_server_active_requests")
          .Help("HTTP requests currently being handled.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& db_duration =
      prometheus::BuildHistogram()
          .Name("db_client_operation_duration_seconds")
          .Help("PostgreSQL statement duration, by statement name and outcome.")
          .Register(*registry);
  std::vector<std::function<void()>> refreshers;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::http_request_started(std::string_view server) {
  impl_->http_active.Add({{"server", std::string(server)}}).Increment();
}

void Metrics::http_request_finished(std::string_view server, std::string_view route,
                                    std::string_view method, unsigned status, double seconds) {
  impl_->http_active.Add({{"server", std::string(server)}}).Decrement();
  prometheus::Labels labels{{"server", std::string(server)},
                            {"route", std::string(route)},
                            {"method", std::string(method)},
                            {"status_class", std::string(status_class(status))}};
  impl_->http_requests.Add(labels).Increment();
  impl_->http_duration.Add(labels, latency_buckets()).Observe(seconds);
}

void Metrics::db_query(std::string_view statement, double seconds, bool ok) {
  impl_->db_duration
      .Add({{"statement", std::string(statement)}, {"outcome", ok ? "ok" : "error"}},
           latency_buckets())
      .Observe(seconds);
}

void Metrics::on_scrape(std::function<void()> refresh) {
  impl_->refreshers.push_back(std::move(refresh));
}

std::string Metrics::serialize() {
  for (auto& refresh : impl_->refreshers) refresh();
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace userservice::telemetry
