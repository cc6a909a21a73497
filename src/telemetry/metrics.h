#pragma once
// Prometheus metrics registry of the process. Served as text by the admin listener.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
}

namespace userservice::telemetry {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // HTTP server (both listeners pass their own `server` label value).
  void http_request_started(std::string_view server);
  void http_request_finished(std::string_view server, std::string_view route,
                             std::string_view method, unsigned status, double seconds);

  // Database statements, by statement name.
  void db_query(std::string_view statement, double seconds, bool ok);

  // Runs before every scrape, to copy pull-style state (pool stats, process stats) into gauges.
  void on_scrape(std::function<void()> refresh);

  // Prometheus text exposition (format 0.0.4) of everything registered.
  std::string serialize();

  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace userservice::telemetry
