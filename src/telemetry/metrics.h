#pragma once
// Prometheus metrics registry of the process. Served as text by the admin listener.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Gauge;
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace userservice::telemetry {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // HTTP server (both listeners pass their own `server` label value).
  // A listener opened: its counters exist (at zero) from now on, so a query over them finds a
  // series before the first increment.
  void http_server_opened(std::string_view server);
  void http_request_started(std::string_view server);
  void http_request_finished(std::string_view server, std::string_view route,
                             std::string_view method, unsigned status, double seconds);

  // Connection cap (ServerOptions::max_connections): an idle keep-alive connection closed to
  // make room, and a connection refused because every one was busy.
  void http_connection_closed_for_room(std::string_view server);
  void http_connection_refused(std::string_view server);

  // Database statements, by statement name.
  void db_query(std::string_view statement, double seconds, bool ok);
  // One coalesced execution of `statement`'s set form, serving `requests` callers.
  void db_coalesced(std::string_view statement, int requests);

  // A connection pool's state, copied in by a refresher, exported as Go's otelsql exports
  // sql.DBStats (db.sql.connection.*: names, the status values idle/inuse, wait duration in
  // milliseconds). Counters are given as totals since start; the families advance by the
  // difference.
  struct DbPoolSnapshot {
    int idle = 0;
    int in_use = 0;
    int max_open = 0;
    std::uint64_t wait_count = 0;
    double wait_seconds = 0;
    std::uint64_t closed_max_idle = 0;
    std::uint64_t closed_max_idle_time = 0;
    std::uint64_t closed_max_lifetime = 0;
    std::uint64_t batches = 0;
    std::uint64_t batched_calls = 0;
    std::int64_t prepared_statements = 0;
  };
  void db_pool(std::string_view pool, const DbPoolSnapshot& snapshot);

  // Expiry sweeper: one finished pass (all kinds), and items expired by kind.
  void sweep_finished(bool ok, double seconds);
  void items_expired(std::string_view kind, int count);

  // Lines the logger dropped since start (a total; the counter advances by the difference).
  void log_lines_dropped(std::uint64_t total);

  // Runs on refresh(): copies pull-style state (pool stats, process stats) into gauges.
  // Callbacks run on the event-loop thread only.
  void on_scrape(std::function<void()> refresh);
  // Runs the on_scrape callbacks and the process metrics; event-loop thread only (a scrape,
  // and a periodic timer so that exporters on other threads see recent values).
  void refresh();

  // Prometheus text exposition (format 0.0.4) of everything registered; refreshes first.
  std::string serialize();
  // A snapshot of every family without refreshing: safe from any thread (exporters).
  std::vector<prometheus::MetricFamily> collect() const;

  prometheus::Registry& registry();

 private:
  prometheus::Gauge& active_series(std::string_view server);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// The process's open descriptors: by stat() where the kernel reports the count (Linux 6.2+),
// otherwise by scanning /proc/self/fd. Exposed for tests.
std::optional<double> open_fds_by_stat();
double open_fds_by_scan();
}  // namespace detail

}  // namespace userservice::telemetry
