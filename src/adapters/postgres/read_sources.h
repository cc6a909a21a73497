#pragma once
// Where read-only admin queries go: the replicas of USERSERVICE_POSTGRES_REPLICA_DSNS while
// they are reachable and close enough behind, the primary as the last resort. A replica is
// usable when its last probe (every probe_interval) answered within the operation timeout and
// showed a replay lag within max_lag; one that fails a query is taken out at once, without
// waiting for the next probe, and the query is run again on the primary. So a dead or lagging
// replica costs latency, never a 503 while the primary is healthy.
//
// Lanes number the sources for page tokens: 0..n-1 the replicas in configuration order, n the
// primary.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "adapters/postgres/pool.h"
#include "common/periodic_task.h"

namespace prometheus {
class Gauge;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace userservice::telemetry {
class Logger;
class Metrics;
}  // namespace userservice::telemetry

namespace userservice::postgres {

struct ReadSourcesOptions {
  std::chrono::nanoseconds max_lag = std::chrono::seconds(5);
  std::chrono::nanoseconds probe_interval = std::chrono::seconds(1);
  std::chrono::nanoseconds probe_timeout = std::chrono::seconds(1);  // the operation timeout
};

class ReadSources {
 public:
  // The pools outlive this object; `replicas` may be empty (then every read goes to the
  // primary). Replicas count as unusable until their first probe.
  ReadSources(boost::asio::any_io_executor ex, Pool& primary, std::vector<Pool*> replicas,
              ReadSourcesOptions options, telemetry::Logger& log, telemetry::Metrics* metrics);
  ~ReadSources();
  ReadSources(const ReadSources&) = delete;
  ReadSources& operator=(const ReadSources&) = delete;

  unsigned lanes() const { return static_cast<unsigned>(replicas_.size() + 1); }
  unsigned primary_lane() const { return static_cast<unsigned>(replicas_.size()); }
  Pool& pool(unsigned lane) { return lane < replicas_.size() ? *replicas_[lane].pool : primary_; }

  // A new walk: the next usable replica round-robin, else the primary.
  unsigned pick();
  // A walk's later page: its lane while that source is usable; otherwise the primary, which
  // holds every row any replica showed (a replica that lags further behind could skip some).
  unsigned resume(unsigned lane);
  // The lane failed a query: unusable until a probe finds it healthy again.
  void failed(unsigned lane, const std::string& why);
  bool usable(unsigned lane) const;

  // One read on `lane`. A replica that fails with service_unavailable is taken out
  // (failed()) and the read runs again on the primary within the same deadline: a dead
  // replica costs time, never a 503, while the primary answers. `lane` is set to the lane
  // that answered. For reads that may be up to the lag bound stale.
  boost::asio::awaitable<std::vector<Result>> pipeline_on(unsigned& lane,
                                                          std::vector<Query> queries,
                                                          const RequestContext& ctx);
  // The same on the next usable replica (round-robin), else the primary.
  boost::asio::awaitable<std::vector<Result>> pipeline(std::vector<Query> queries,
                                                       const RequestContext& ctx);

  // Probes every replica once, concurrently-safe on the event loop (used at start).
  boost::asio::awaitable<void> probe_all();
  void start();  // probes every probe_interval until stop()
  boost::asio::awaitable<void> stop();

 private:
  struct Replica {
    Pool* pool;
    bool usable = false;
    bool probed = false;
    double lag_seconds = 0;
    prometheus::Gauge* usable_gauge = nullptr;
    prometheus::Gauge* lag_gauge = nullptr;
    prometheus::Counter* fallbacks = nullptr;
  };
  void set_state(Replica& r, bool usable, double lag, const std::string& why);
  boost::asio::awaitable<void> probe(Replica& r);

  Pool& primary_;
  std::vector<Replica> replicas_;
  ReadSourcesOptions options_;
  telemetry::Logger& log_;
  std::size_t next_ = 0;  // round-robin position; event-loop thread only
  PeriodicTask probes_;
};

}  // namespace userservice::postgres
