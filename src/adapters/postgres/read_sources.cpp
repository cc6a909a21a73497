#include "adapters/postgres/read_sources.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "domain/error.h"
#include "sql_statements.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"

namespace userservice::postgres {

namespace asio = boost::asio;

ReadSources::ReadSources(asio::any_io_executor ex, Pool& primary, std::vector<Pool*> replicas,
                         ReadSourcesOptions options, telemetry::Logger& log,
                         telemetry::Metrics* metrics)
    : primary_(primary),
      options_(options),
      log_(log),
      // probe_all() runs once at start; the loop's first pass then only repeats it.
      probes_(ex, options_.probe_interval, [this] { return probe_all(); }) {
  prometheus::Family<prometheus::Gauge>* usable = nullptr;
  prometheus::Family<prometheus::Gauge>* lag = nullptr;
  prometheus::Family<prometheus::Counter>* fallbacks = nullptr;
  if (metrics != nullptr && !replicas.empty()) {
    auto& registry = metrics->registry();
    usable = &prometheus::BuildGauge()
                  .Name("userservice_postgres_replica_usable")
                  .Help(
                      "1 while the replica pool receives read-only admin queries (reachable, "
                      "replay lag within USERSERVICE_POSTGRES_REPLICA_MAX_LAG).")
                  .Register(registry);
    lag = &prometheus::BuildGauge()
               .Name("userservice_postgres_replica_lag_seconds")
               .Help(
                   "Replay lag of the replica at its last successful probe (+Inf when it "
                   "never replayed a transaction).")
               .Register(registry);
    fallbacks = &prometheus::BuildCounter()
                     .Name("userservice_postgres_replica_fallbacks_total")
                     .Help(
                         "Read-only admin queries that went to the primary because this "
                         "replica failed them or was unusable when a walk resumed.")
                     .Register(registry);
  }
  for (Pool* p : replicas) {
    Replica r{p};
    if (usable != nullptr) {
      r.usable_gauge = &usable->Add({{"pool", p->options().name}});
      r.lag_gauge = &lag->Add({{"pool", p->options().name}});
      r.fallbacks = &fallbacks->Add({{"pool", p->options().name}});
    }
    replicas_.push_back(r);
  }
}

ReadSources::~ReadSources() = default;

unsigned ReadSources::pick() {
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    const std::size_t lane = next_++ % replicas_.size();
    if (replicas_[lane].usable) return static_cast<unsigned>(lane);
  }
  return primary_lane();
}

unsigned ReadSources::resume(unsigned lane) {
  if (lane >= lanes()) lane %= lanes();  // a token from a process with more replicas
  if (lane == primary_lane() || replicas_[lane].usable) return lane;
  if (replicas_[lane].fallbacks != nullptr) replicas_[lane].fallbacks->Increment();
  return primary_lane();
}

bool ReadSources::usable(unsigned lane) const {
  return lane == primary_lane() || (lane < replicas_.size() && replicas_[lane].usable);
}

asio::awaitable<std::vector<Result>> ReadSources::pipeline_on(unsigned& lane,
                                                              std::vector<Query> queries,
                                                              const RequestContext& ctx) {
  if (lane >= primary_lane()) {
    lane = primary_lane();
    co_return co_await primary_.pipeline(std::move(queries), ctx);
  }
  try {
    co_return co_await pool(lane).pipeline(queries, ctx);
  } catch (const domain::Error& e) {
    if (e.code() != domain::ErrorCode::service_unavailable || Clock::now() >= ctx.deadline) {
      throw;
    }
    failed(lane, e.message() + (e.detail().empty() ? "" : ": " + e.detail()));
  }
  lane = primary_lane();
  co_return co_await primary_.pipeline(std::move(queries), ctx);
}

asio::awaitable<std::vector<Result>> ReadSources::pipeline(std::vector<Query> queries,
                                                           const RequestContext& ctx) {
  unsigned lane = pick();
  co_return co_await pipeline_on(lane, std::move(queries), ctx);
}

void ReadSources::failed(unsigned lane, const std::string& why) {
  if (lane >= replicas_.size()) return;
  Replica& r = replicas_[lane];
  if (r.fallbacks != nullptr) r.fallbacks->Increment();
  set_state(r, false, r.lag_seconds, why);
}

void ReadSources::set_state(Replica& r, bool usable, double lag, const std::string& why) {
  const bool changed = usable != r.usable || !r.probed;
  r.usable = usable;
  r.probed = true;
  r.lag_seconds = lag;
  if (r.usable_gauge != nullptr) r.usable_gauge->Set(usable ? 1 : 0);
  if (r.lag_gauge != nullptr) r.lag_gauge->Set(lag);
  if (!changed) return;
  // Transitions only: a replica that stays down does not log every probe.
  if (usable) {
    log_.info("postgres replica usable", {{"pool", r.pool->options().name}, {"lag_s", lag}});
  } else {
    log_.warn("postgres replica skipped, reads go to the primary",
              {{"pool", r.pool->options().name}, {"reason", why}});
  }
}

asio::awaitable<void> ReadSources::probe(Replica& r) {
  const double max_lag = std::chrono::duration<double>(options_.max_lag).count();
  try {
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(options_.probe_timeout);
    Result res = co_await r.pool->query(sql::kReplicaState, Params{}, deadline);
    const double lag = res.float64(0, 1);  // +Infinity: never replayed
    if (lag <= max_lag) {
      set_state(r, true, lag, "");
    } else {
      set_state(r, false, lag,
                "replay lag " +
                    (std::isinf(lag) ? std::string("unknown") : std::to_string(lag) + "s") +
                    " above USERSERVICE_POSTGRES_REPLICA_MAX_LAG");
    }
  } catch (const domain::Error& e) {
    set_state(r, false, r.lag_seconds, e.message() + (e.detail().empty() ? "" : ": " + e.detail()));
  } catch (const SqlError& e) {
    set_state(r, false, r.lag_seconds, std::string("probe failed: ") + e.what());
  }
}

asio::awaitable<void> ReadSources::probe_all() {
  for (Replica& r : replicas_) co_await probe(r);
}

void ReadSources::start() {
  if (!replicas_.empty()) probes_.start();
}

asio::awaitable<void> ReadSources::stop() { co_await probes_.stop(); }

}  // namespace userservice::postgres
