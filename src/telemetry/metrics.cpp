#include "telemetry/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace userservice::telemetry {

namespace {
std::string_view status_class(unsigned status) {
  switch (status / 100) {
    case 1:
      return "1xx";
    case 2:
      return "2xx";
    case 3:
      return "3xx";
    case 4:
      return "4xx";
    default:
      return "5xx";
  }
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}
const prometheus::Histogram::BucketBoundaries& sweep_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0.001, 0.005, 0.025, 0.1,
                                                            0.5,   1,     5,     30};
  return b;
}

// Advances a counter that mirrors a total kept elsewhere (never backwards).
void advance(prometheus::Counter& c, double total) {
  const double delta = total - c.Value();
  if (delta > 0) c.Increment(delta);
}

// /proc/self/stat fields after the command name: utime, stime (ticks), starttime (ticks after
// boot), vsize (bytes), rss (pages).
struct ProcStat {
  double cpu_seconds = 0;
  double start_seconds_after_boot = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  bool ok = false;
};

ProcStat read_proc_stat() {
  ProcStat out;
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return out;
  const auto close = line.rfind(')');  // the command name may contain spaces and ')'
  if (close == std::string::npos) return out;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string tok; rest >> tok;) f.push_back(tok);
  // f[0] is field 3 (state); field N is f[N - 3].
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
  out.start_seconds_after_boot = std::stod(f[22 - 3]) / ticks;
  out.virtual_bytes = std::stod(f[23 - 3]);
  out.resident_bytes = std::stod(f[24 - 3]) * page;
  out.ok = true;
  return out;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

namespace detail {

// Since Linux 6.2, stat() on /proc/self/fd reports the number of open descriptors as its
// size: one syscall. Older kernels report 0 there, and only a directory scan counts them; the
// scan costs ~1.3 us per descriptor (6.7 ms with 5,000 connections open, on the loop thread).
std::optional<double> open_fds_by_stat() {
  struct stat st {};
  if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<double>(st.st_size);
  return std::nullopt;
}

double open_fds_by_scan() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // minus the iterator's own descriptor
}

}  // namespace detail

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
  prometheus::Family<prometheus::Counter>& http_evictions =
      prometheus::BuildCounter()
          .Name("http_server_connections_evicted_total")
          .Help(
              "Idle keep-alive connections closed to make room for a new one at the "
              "connection cap, by listener.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& http_refused =
      prometheus::BuildCounter()
          .Name("http_server_connections_refused_total")
          .Help("Connections answered 503 at the connection cap (every one busy), by listener.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& db_duration =
      prometheus::BuildHistogram()
          .Name("db_client_operation_duration_seconds")
          .Help("PostgreSQL statement duration, by statement name and outcome.")
          .Register(*registry);
  // db.sql.connection.*, named, labelled and measured as Go's otelsql exports sql.DBStats
  // (through the OTel Prometheus exporter: '.' -> '_', unit "ms" -> _milliseconds, counters
  // _total), so dashboards written for the Go service read them unchanged.
  prometheus::Family<prometheus::Gauge>& db_open =
      prometheus::BuildGauge()
          .Name("db_sql_connection_open")
          .Help("The number of established connections both in use and idle (status: idle, inuse).")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& db_max_open =
      prometheus::BuildGauge()
          .Name("db_sql_connection_max_open")
          .Help("Maximum number of open connections to the database")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_wait =
      prometheus::BuildCounter()
          .Name("db_sql_connection_wait_total")
          .Help("The total number of connections waited for")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_wait_duration =
      prometheus::BuildCounter()
          .Name("db_sql_connection_wait_duration_milliseconds_total")
          .Help("The total time blocked waiting for a new connection")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_closed_max_idle =
      prometheus::BuildCounter()
          .Name("db_sql_connection_closed_max_idle_total")
          .Help(
              "The total number of connections closed due to SetMaxIdleConns "
              "(USERSERVICE_POSTGRES_MAX_IDLE_CONNS)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_closed_max_idle_time =
      prometheus::BuildCounter()
          .Name("db_sql_connection_closed_max_idle_time_total")
          .Help(
              "The total number of connections closed due to SetConnMaxIdleTime "
              "(USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_closed_max_lifetime =
      prometheus::BuildCounter()
          .Name("db_sql_connection_closed_max_lifetime_total")
          .Help(
              "The total number of connections closed due to SetConnMaxLifetime "
              "(USERSERVICE_POSTGRES_CONN_MAX_LIFETIME)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_batches =
      prometheus::BuildCounter()
          .Name("userservice_db_pool_batches_total")
          .Help("Round trips that carried several queued callers' statements, by pool.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& db_prepared =
      prometheus::BuildGauge()
          .Name("userservice_db_prepared_statements")
          .Help(
              "Statements held prepared across the pool's open connections (bounded: generated "
              "listing SQL is never prepared).")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& db_batched_calls =
      prometheus::BuildCounter()
          .Name("userservice_db_pool_batched_calls_total")
          .Help("Callers served by those batched round trips, by pool.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& db_coalesced =
      prometheus::BuildHistogram()
          .Name("userservice_db_coalesced_requests")
          .Help(
              "Requests served by one coalesced read (the set form of a one-key read run "
              "once for the queued callers of its kind), by the single statement's name.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& sweeps =
      prometheus::BuildCounter()
          .Name("userservice_expiry_sweeps_total")
          .Help("Expiry sweeper passes, by outcome (ok, error).")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& sweep_duration =
      prometheus::BuildHistogram()
          .Name("userservice_expiry_sweep_duration_seconds")
          .Help("Duration of one expiry sweeper pass over every kind.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& expired_items =
      prometheus::BuildCounter()
          .Name("userservice_expiry_expired_items_total")
          .Help("Items the sweeper expired, by kind (entitlement, sanction, limit).")
          .Register(*registry);
  // Process metrics, named as the Prometheus client libraries name them.
  prometheus::Gauge& resident = prometheus::BuildGauge()
                                    .Name("process_resident_memory_bytes")
                                    .Help("Resident memory size in bytes.")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Gauge& virtual_memory = prometheus::BuildGauge()
                                          .Name("process_virtual_memory_bytes")
                                          .Help("Virtual memory size in bytes.")
                                          .Register(*registry)
                                          .Add({});
  prometheus::Counter& cpu = prometheus::BuildCounter()
                                 .Name("process_cpu_seconds_total")
                                 .Help("Total user and system CPU time spent in seconds.")
                                 .Register(*registry)
                                 .Add({});
  prometheus::Gauge& fds = prometheus::BuildGauge()
                               .Name("process_open_fds")
                               .Help("Number of open file descriptors.")
                               .Register(*registry)
                               .Add({});
  prometheus::Gauge& max_fds = prometheus::BuildGauge()
                                   .Name("process_max_fds")
                                   .Help("Maximum number of open file descriptors.")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Gauge& start_time =
      prometheus::BuildGauge()
          .Name("process_start_time_seconds")
          .Help("Start time of the process since unix epoch in seconds.")
          .Register(*registry)
          .Add({});
  prometheus::Counter& log_dropped =
      prometheus::BuildCounter()
          .Name("userservice_log_lines_dropped_total")
          .Help(
              "Log (and stdout span/metric) lines dropped because stdout did not keep up; "
              "logging never waits for it.")
          .Register(*registry)
          .Add({});
  std::vector<std::function<void()>> refreshers;

  // Series of the per-request families by label values (see http_request_finished).
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <typename T>
  using SeriesMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;
  struct HttpSeries {
    prometheus::Counter* count = nullptr;
    prometheus::Histogram* duration = nullptr;
  };
  std::mutex series_mu;
  SeriesMap<prometheus::Gauge*> active_series;
  SeriesMap<HttpSeries> http_series;
  SeriesMap<prometheus::Histogram*> db_series;
  SeriesMap<prometheus::Histogram*> coalesced_series;  // by statement

  // The series stored under `key`, added by `add()` on first use.
  template <typename T, typename Add>
  T cached(SeriesMap<T>& map, std::string_view key, Add add) {
    std::lock_guard lock(series_mu);
    auto it = map.find(key);
    if (it == map.end()) it = map.emplace(std::string(key), add()).first;
    return it->second;
  }

  std::chrono::steady_clock::time_point next_fd_scan{};

  void refresh_process(bool scrape) {
    const ProcStat st = read_proc_stat();
    if (st.ok) {
      resident.Set(st.resident_bytes);
      virtual_memory.Set(st.virtual_bytes);
      advance(cpu, st.cpu_seconds);
      if (start_time.Value() == 0)
        start_time.Set(boot_time_seconds() + st.start_seconds_after_boot);
    }
    // The scan (older kernels) runs on a scrape, and otherwise at most every 15 s for the
    // exporters, rather than stalling the loop every second.
    if (auto n = detail::open_fds_by_stat()) {
      fds.Set(*n);
    } else if (scrape || std::chrono::steady_clock::now() >= next_fd_scan) {
      fds.Set(detail::open_fds_by_scan());
      next_fd_scan = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    }
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) max_fds.Set(static_cast<double>(lim.rlim_cur));
  }
  // A scrape also refreshes what is too costly to refresh on every periodic tick.
  void refresh(bool scrape) {
    refresh_process(scrape);
    for (auto& r : refreshers) r();
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

// Family::Add builds a label map, validates it and allocates a fresh series (a Histogram with
// its buckets) before finding the existing one. The per-request paths look their series up
// once per label set instead, by a key built in a reused thread-local buffer; a series is
// never removed, so the pointers stay valid.
prometheus::Gauge& Metrics::active_series(std::string_view server) {
  return *impl_->cached(impl_->active_series, server, [&] {
    return &impl_->http_active.Add({{"server", std::string(server)}});
  });
}

void Metrics::http_server_opened(std::string_view server) {
  impl_->http_evictions.Add({{"server", std::string(server)}});
  impl_->http_refused.Add({{"server", std::string(server)}});
  active_series(server);
}

void Metrics::http_request_started(std::string_view server) { active_series(server).Increment(); }

void Metrics::http_request_finished(std::string_view server, std::string_view route,
                                    std::string_view method, unsigned status, double seconds) {
  active_series(server).Decrement();
  const std::string_view cls = status_class(status);
  thread_local std::string key;
  key.clear();
  for (std::string_view part : {server, route, method}) key.append(part).append(1, '\0');
  key.append(cls);
  const Impl::HttpSeries series = impl_->cached(impl_->http_series, key, [&] {
    const prometheus::Labels labels{{"server", std::string(server)},
                                    {"route", std::string(route)},
                                    {"method", std::string(method)},
                                    {"status_class", std::string(cls)}};
    return Impl::HttpSeries{&impl_->http_requests.Add(labels),
                            &impl_->http_duration.Add(labels, latency_buckets())};
  });
  series.count->Increment();
  series.duration->Observe(seconds);
}

void Metrics::db_query(std::string_view statement, double seconds, bool ok) {
  const std::string_view outcome = ok ? "ok" : "error";
  thread_local std::string key;
  key.clear();
  key.append(statement).append(1, '\0').append(outcome);
  impl_
      ->cached(impl_->db_series, key,
               [&] {
                 return &impl_->db_duration.Add(
                     {{"statement", std::string(statement)}, {"outcome", std::string(outcome)}},
                     latency_buckets());
               })
      ->Observe(seconds);
}

void Metrics::db_coalesced(std::string_view statement, int requests) {
  impl_
      ->cached(impl_->coalesced_series, statement,
               [&] {
                 static const prometheus::Histogram::BucketBoundaries kBuckets{2, 4, 8, 16, 32, 64};
                 return &impl_->db_coalesced.Add({{"statement", std::string(statement)}}, kBuckets);
               })
      ->Observe(static_cast<double>(requests));
}

void Metrics::db_pool(std::string_view pool, const DbPoolSnapshot& s) {
  const std::string p(pool);
  impl_->db_open.Add({{"pool", p}, {"status", "idle"}}).Set(s.idle);
  impl_->db_open.Add({{"pool", p}, {"status", "inuse"}}).Set(s.in_use);
  impl_->db_max_open.Add({{"pool", p}}).Set(s.max_open);
  advance(impl_->db_wait.Add({{"pool", p}}), static_cast<double>(s.wait_count));
  advance(impl_->db_wait_duration.Add({{"pool", p}}), s.wait_seconds * 1000.0);
  advance(impl_->db_closed_max_idle.Add({{"pool", p}}), static_cast<double>(s.closed_max_idle));
  advance(impl_->db_closed_max_idle_time.Add({{"pool", p}}),
          static_cast<double>(s.closed_max_idle_time));
  advance(impl_->db_closed_max_lifetime.Add({{"pool", p}}),
          static_cast<double>(s.closed_max_lifetime));
  advance(impl_->db_batches.Add({{"pool", p}}), static_cast<double>(s.batches));
  advance(impl_->db_batched_calls.Add({{"pool", p}}), static_cast<double>(s.batched_calls));
  impl_->db_prepared.Add({{"pool", p}}).Set(static_cast<double>(s.prepared_statements));
}

void Metrics::http_connection_closed_for_room(std::string_view server) {
  impl_->http_evictions.Add({{"server", std::string(server)}}).Increment();
}

void Metrics::http_connection_refused(std::string_view server) {
  impl_->http_refused.Add({{"server", std::string(server)}}).Increment();
}

void Metrics::sweep_finished(bool ok, double seconds) {
  impl_->sweeps.Add({{"outcome", ok ? "ok" : "error"}}).Increment();
  impl_->sweep_duration.Add({}, sweep_buckets()).Observe(seconds);
}

void Metrics::items_expired(std::string_view kind, int count) {
  auto& c = impl_->expired_items.Add({{"kind", std::string(kind)}});
  if (count > 0) c.Increment(count);
}

void Metrics::log_lines_dropped(std::uint64_t total) {
  advance(impl_->log_dropped, static_cast<double>(total));
}

void Metrics::on_scrape(std::function<void()> refresh) {
  impl_->refreshers.push_back(std::move(refresh));
}

void Metrics::refresh() { impl_->refresh(false); }

std::string Metrics::serialize() {
  impl_->refresh(true);
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

std::vector<prometheus::MetricFamily> Metrics::collect() const {
  return impl_->registry->Collect();
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace userservice::telemetry
