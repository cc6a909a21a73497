#include "app/runtime.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <optional>

#include "adapters/http/router.h"
#include "adapters/http/routes.h"
#include "adapters/http/server.h"
#include "adapters/outbox_relay/relay.h"
#include "adapters/postgres/command_store.h"
#include "adapters/postgres/idempotency_store.h"
#include "adapters/postgres/listing_store.h"
#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "adapters/postgres/user_store.h"
#include "adapters/redis/connection.h"
#include "adapters/redis/stream_publisher.h"
#include "common/coroutine_failure.h"
#include "config/duration.h"
#include "domain/error.h"
#include "domain/random.h"
#include "services/account_service.h"
#include "services/admin_command_service.h"
#include "services/expiry_sweeper.h"
#include "services/listing_service.h"
#include "telemetry/exporters.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace userservice::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// A failed startup step: printed as "startup failed: <step>: <message>".
struct StartupError : std::runtime_error {
  StartupError(std::string step, const std::string& message)
      : std::runtime_error(step + ": " + message) {}
};

// Runs `fn`, turning any exception into a StartupError naming `step`.
template <typename Fn>
auto step(std::string_view name, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const domain::Error& e) {
    throw StartupError(std::string(name),
                       e.detail().empty() ? e.message() : e.message() + ": " + e.detail());
  } catch (const std::exception& e) {
    throw StartupError(std::string(name), e.what());
  }
}

// Descriptors kept back from the listeners for everything else: the stdio, epoll, timer and
// event descriptors, the relay's PostgreSQL and Redis connections, OTLP, a startup check —
// plus the pools' connections, counted separately.
constexpr std::size_t kFixedDescriptorReserve = 64;
// The admin listener serves scrapes: a handful of clients.
constexpr std::size_t kAdminConnectionsDefault = 32;

struct DescriptorBudget {
  std::size_t soft = 0, hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit: the default soft limit (often 1024) caps
// client connections long before memory does.
DescriptorBudget raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const auto cap = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::size_t{1} << 20 : static_cast<std::size_t>(v);
  };
  return {cap(lim.rlim_cur), cap(lim.rlim_max)};
}

// Startup checks get a fixed budget: long enough for a slow connect, short enough that
// an unreachable dependency ends the process within seconds.
constexpr auto kStartupPingBudget = 5s;
constexpr auto kMigrationBudget = 120s;

}  // namespace

struct Runtime::Impl {
  Impl(config::Config c, telemetry::Logger& l) : cfg(std::move(c)), log(l) {}

  config::Config cfg;
  telemetry::Logger& log;
  asio::io_context io{1};  // one event-loop thread: no locks on the request path
  telemetry::Metrics metrics;
  // Spans go to the processors installed at start; everything that records spans holds a
  // pointer to it, so it outlives them all (declared early, destroyed late).
  telemetry::Tracer tracer;
  std::unique_ptr<telemetry::PeriodicMetricsExporter> metrics_exporter;
  // One generator for minted ids, owned by the event-loop thread.
  domain::Xoshiro256Random random = domain::Xoshiro256Random::from_os_entropy();

  std::unique_ptr<postgres::Pool> primary;
  // USERSERVICE_POSTGRES_REPLICA_DSNS, in order: read-only admin listing (api.md §11).
  std::vector<std::unique_ptr<postgres::Pool>> replicas;
  std::unique_ptr<postgres::PgUserStore> store;
  std::unique_ptr<postgres::PgIdempotencyStore> keys;
  std::optional<redis::StreamPublisher> domain_events;
  std::optional<redis::StreamPublisher> lifecycle_events;
  std::unique_ptr<services::AccountService> accounts;
  std::unique_ptr<postgres::PgCommandStore> command_store;
  std::unique_ptr<services::AdminCommandService> commands;
  std::unique_ptr<postgres::PgListingStore> listing_store;
  std::unique_ptr<services::ListingService> listing;
  std::unique_ptr<services::ExpirySweeper> sweeper;
  std::unique_ptr<postgres::ReadSources> read_sources;  // replicas + primary, for admin reads
  http::Router internal_router;
  http::Router admin_router;
  std::unique_ptr<http::Server> internal_server;
  std::unique_ptr<http::Server> admin_server;
  // Declared after `metrics`: destroyed (stopped) before the families it updates.
  std::unique_ptr<redis::OutboxRelay> relay;

  asio::awaitable<void> start();
  asio::awaitable<void> shutdown();
  asio::awaitable<void> refresh_metrics();
  void publish_pool_stats(const postgres::Pool& pool);
  bool stopping = false;
  bool serving = false;  // the listeners accept: a failure now needs a graceful stop
  std::optional<asio::steady_timer> refresh_timer;
  asio::awaitable<void> main();
  asio::awaitable<void> ignore_hangups(asio::signal_set& hangups);
};

asio::awaitable<void> Runtime::Impl::start() {
  // 0. Telemetry exporters (OTLP / stdout per the OTEL_* variables), each on its own thread.
  // They read the registry directly: loop-owned gauges are copied in by refresh_metrics().
  step("telemetry", [&] {
    auto pipeline = telemetry::build_telemetry(
        cfg.telemetry, log, metrics.registry(),
        [this](std::chrono::steady_clock::time_point) { return metrics.collect(); });
    for (auto& processor : pipeline.span_processors) tracer.add_processor(std::move(processor));
    metrics_exporter = std::move(pipeline.metrics);
  });
  // Lines the logger had to drop (stdout not keeping up) show as a counter.
  metrics.on_scrape([this] { metrics.log_lines_dropped(log.dropped()); });

  // 1. Redis: AUTH, SELECT, PING with the operation timeout.
  // The check's connection is closed right away: only the relay talks to Redis, on its own
  // connection, so holding this one would only keep an idle client open for the process life.
  step("redis", [&] {
    redis::Connection::open(
        {cfg.redis.master_addr, cfg.redis.password, cfg.redis.db, cfg.redis.operation_timeout});
  });
  log.info("redis connected", {{"addr", cfg.redis.master_addr}, {"db", cfg.redis.db}});

  // 2. PostgreSQL pool, pinged, then migrated forward under an advisory lock. Replicas get
  // the primary's limits and timeouts.
  const auto pool_options = [&](const std::string& dsn, const std::string& name) {
    return postgres::PoolOptions{
        .dsn = dsn,
        .max_open = cfg.postgres.max_open_conns,
        .max_idle = cfg.postgres.max_idle_conns,
        .max_lifetime = cfg.postgres.conn_max_lifetime,
        .max_idle_time = cfg.postgres.conn_max_idle_time,
        .operation_timeout = cfg.postgres.operation_timeout,
        .name = name,
        .max_batch = cfg.postgres.max_batch,
        .coalesce_reads = cfg.postgres.coalesce_reads,
        .transaction_pooling = cfg.postgres.pooling == config::Pooling::transaction};
  };
  // Migrations and the relay hold session advisory locks: a direct (or session-pooled) DSN.
  const std::string& session_dsn =
      cfg.postgres.session_dsn.empty() ? cfg.postgres.primary_dsn : cfg.postgres.session_dsn;
  try {
    auto primary_options = pool_options(cfg.postgres.primary_dsn, "primary");
    primary_options.deadline_guard = true;  // migrated below, before any request can batch
    primary = std::make_unique<postgres::Pool>(io.get_executor(), std::move(primary_options), log,
                                               &metrics);
    primary->set_tracer(&tracer);
    metrics.on_scrape([this] { publish_pool_stats(*primary); });
    co_await primary->ping(Clock::now() + kStartupPingBudget);
    if (session_dsn == cfg.postgres.primary_dsn) {
      co_await postgres::migrate(*primary, log, Clock::now() + kMigrationBudget);
    } else {
      // Behind a transaction pooler the migration's advisory lock needs a session of its
      // own: a one-connection pool on the session DSN, closed once migrated.
      auto session_options = pool_options(session_dsn, "session");
      session_options.max_open = session_options.max_idle = 1;
      session_options.transaction_pooling = false;
      postgres::Pool session(io.get_executor(), std::move(session_options), log, nullptr);
      co_await postgres::migrate(session, log, Clock::now() + kMigrationBudget);
      session.close();
    }
  } catch (const domain::Error& e) {
    throw StartupError("postgres",
                       e.detail().empty() ? e.message() : e.message() + ": " + e.detail());
  } catch (const std::exception& e) {
    throw StartupError("postgres", e.what());
  }
  log.info("postgres ready",
           {{"max_open_conns", cfg.postgres.max_open_conns},
            {"pooling",
             cfg.postgres.pooling == config::Pooling::transaction ? "transaction" : "session"}});

  // 2b. Replica pools (optional). Only read-only admin queries use them, and only while a
  // probe finds them reachable and within USERSERVICE_POSTGRES_REPLICA_MAX_LAG; otherwise the
  // primary serves those reads. So an unreachable replica is a warning, not a failed start. A
  // DSN libpq cannot parse is a configuration error and fails the start.
  std::vector<postgres::Pool*> replica_pools;
  for (std::size_t i = 0; i < cfg.postgres.replica_dsns.size(); ++i) {
    const std::string name = "replica-" + std::to_string(i + 1);
    const std::string variable = "USERSERVICE_POSTGRES_REPLICA_DSNS entry " + std::to_string(i + 1);
    auto& pool = replicas.emplace_back(step(variable, [&] {
      return std::make_unique<postgres::Pool>(
          io.get_executor(), pool_options(cfg.postgres.replica_dsns[i], name), log, &metrics);
    }));
    pool->set_tracer(&tracer);
    metrics.on_scrape([this, p = pool.get()] { publish_pool_stats(*p); });
    replica_pools.push_back(pool.get());
  }
  // Probed every second, or every half of the lag bound when that is shorter, so a replica
  // that falls behind is skipped before it is twice the bound behind.
  read_sources = std::make_unique<postgres::ReadSources>(
      io.get_executor(), *primary, std::move(replica_pools),
      postgres::ReadSourcesOptions{
          .max_lag = cfg.postgres.replica_max_lag,
          .probe_interval = std::min<config::Duration>(1s, cfg.postgres.replica_max_lag / 2),
          .probe_timeout = cfg.postgres.operation_timeout},
      log, &metrics);
  co_await read_sources->probe_all();
  read_sources->start();

  // 3. The user store (and the stored answers of Idempotency-Key requests).
  // USERSERVICE_POSTGRES_REPLICA_READS: the admin reads that may be up to the lag bound stale.
  const auto& replica_reads = cfg.postgres.replica_reads;
  store = std::make_unique<postgres::PgUserStore>(
      *primary, replica_reads.lookups ? read_sources.get() : nullptr);
  keys = std::make_unique<postgres::PgIdempotencyStore>(*primary, cfg.idempotency_key_ttl);

  // 4. Two stream publishers (stream name + trim length); the relay sends through them.
  domain_events.emplace(cfg.redis.domain_events_stream, cfg.redis.domain_events_max_len);
  lifecycle_events.emplace(cfg.redis.lifecycle_events_stream, cfg.redis.lifecycle_events_max_len);

  // 5. Application services and the internal router.
  accounts = std::make_unique<services::AccountService>(
      *store, random, [] { return std::chrono::system_clock::now(); });
  command_store = std::make_unique<postgres::PgCommandStore>(
      *primary, replica_reads.history ? read_sources.get() : nullptr);
  commands = std::make_unique<services::AdminCommandService>(
      *command_store, random, [] { return std::chrono::system_clock::now(); });
  // The listing reads from the usable replicas (unless REPLICA_READS leaves it out), else from
  // the primary.
  listing_store = std::make_unique<postgres::PgListingStore>(*read_sources, replica_reads.listing);
  listing = std::make_unique<services::ListingService>(
      *listing_store, [] { return std::chrono::system_clock::now(); });
  http::add_internal_routes(internal_router, {*accounts, *commands, *listing, *keys});

  // 6. Listeners: bind both before serving either, so a bad admin address fails the
  // start before the internal listener has accepted anything. Each has a connection cap, so
  // idle clients can never take the descriptors the pools, the relay and OTLP need.
  const DescriptorBudget fds = raise_descriptor_limit();
  const std::size_t reserve = static_cast<std::size_t>(cfg.postgres.max_open_conns) *
                                  (1 + cfg.postgres.replica_dsns.size()) +
                              kFixedDescriptorReserve;
  const std::size_t admin_cap = cfg.admin_http.max_connections > 0
                                    ? static_cast<std::size_t>(cfg.admin_http.max_connections)
                                    : kAdminConnectionsDefault;
  const std::size_t available = fds.soft > reserve + admin_cap ? fds.soft - reserve - admin_cap : 0;
  const std::size_t internal_cap = cfg.internal_http.max_connections > 0
                                       ? static_cast<std::size_t>(cfg.internal_http.max_connections)
                                       : std::max<std::size_t>(available, 16);
  log.info("descriptors", {{"soft_limit", fds.soft},
                           {"hard_limit", fds.hard},
                           {"reserved", reserve},
                           {"internal_max_connections", internal_cap},
                           {"admin_max_connections", admin_cap}});
  if (internal_cap > available) {
    log.warn("connection cap above what the descriptor limit leaves after the reserve",
             {{"internal_max_connections", internal_cap}, {"available", available}});
  }
  http::ServerOptions internal_options{"internal",
                                       cfg.internal_http.addr,
                                       cfg.internal_http.read_header_timeout,
                                       cfg.internal_http.read_timeout,
                                       cfg.internal_http.idle_timeout,
                                       cfg.internal_request_timeout};
  internal_options.tracer = &tracer;  // the admin listener's scrapes are not traced
  internal_options.max_connections = internal_cap;
  internal_server = std::make_unique<http::Server>(io, std::move(internal_options), internal_router,
                                                   log, &metrics);
  step("internal listener", [&] { internal_server->listen(); });
  if (!cfg.admin_http.addr.empty()) {
    http::add_admin_routes(admin_router, metrics);
    http::ServerOptions admin_options{"admin", cfg.admin_http.addr,
                                      cfg.admin_http.read_header_timeout,
                                      cfg.admin_http.read_timeout, cfg.admin_http.idle_timeout};
    admin_options.json_api = false;  // GET/HEAD only; no bodies to check
    admin_options.max_connections = admin_cap;
    admin_server = std::make_unique<http::Server>(io, admin_options, admin_router, log, &metrics);
    step("admin listener", [&] { admin_server->listen(); });
  }
  // 7. Background work, built before the listeners serve, so that whatever can fail here
  // (the relay's eventfd, ...) fails the start before any request was accepted.
  sweeper = std::make_unique<services::ExpirySweeper>(
      io.get_executor(), *command_store, random, [] { return std::chrono::system_clock::now(); },
      log,
      services::ExpirySweeperOptions{
          .interval = cfg.expiry_sweep_interval, .metrics = &metrics, .keys = keys.get()});
  // The outbox relay, on its own thread with its own connections: it never blocks the event
  // loop, and an unreachable Redis only delays events (api.md §10).
  redis::OutboxRelayOptions relay_options{
      session_dsn,
      {cfg.redis.master_addr, cfg.redis.password, cfg.redis.db, cfg.redis.operation_timeout},
      *domain_events,
      *lifecycle_events};
  relay_options.tracer = &tracer;
  relay_options.leader_timeout = cfg.outbox_leader_timeout;
  relay_options.wait_replicas = cfg.redis.wait_replicas;
  relay_options.wait_timeout = cfg.redis.wait_timeout;
  relay = step("outbox relay", [&] {
    return std::make_unique<redis::OutboxRelay>(std::move(relay_options), log, &metrics);
  });

  internal_server->start();
  if (admin_server) admin_server->start();
  serving = true;
  // From here on a failure (a thread that cannot be created) ends the process gracefully:
  // main() drains the listeners before exiting 1.
  step("expiry sweeper", [&] { sweeper->start(); });
  step("outbox relay", [&] { relay->start(); });
  // Pull-style gauges (pools, process) refreshed on the loop, so that exporters on other
  // threads read recent values without touching loop-owned state.
  step("metrics", [&] { asio::co_spawn(io, refresh_metrics(), asio::detached); });
  log.info("listening", {{"internal_addr", cfg.internal_http.addr},
                         {"internal_port", unsigned{internal_server->port()}},
                         {"admin_addr", cfg.admin_http.addr},
                         {"admin_port", admin_server ? unsigned{admin_server->port()} : 0u}});
}

void Runtime::Impl::publish_pool_stats(const postgres::Pool& pool) {
  const postgres::PoolStats st = pool.stats();
  metrics.db_pool(pool.options().name,
                  telemetry::Metrics::DbPoolSnapshot{
                      st.idle, st.in_use, st.max_open, st.wait_count, st.wait_seconds_total,
                      st.closed_max_idle, st.closed_max_idle_time, st.closed_max_lifetime,
                      st.batches, st.batched_calls, st.prepared_statements});
}

asio::awaitable<void> Runtime::Impl::refresh_metrics() {
  refresh_timer.emplace(io);
  while (!stopping) {
    metrics.refresh();
    refresh_timer->expires_after(1s);
    auto [ec] = co_await refresh_timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
}

asio::awaitable<void> Runtime::Impl::shutdown() {
  const auto deadline = Clock::now() + cfg.shutdown_timeout;
  stopping = true;
  if (refresh_timer) refresh_timer->cancel();
  log.info("shutting down", {{"timeout", config::format_go_duration(cfg.shutdown_timeout)}});
  // Listeners first (stop accepting, let in-flight requests finish), then the pools
  // those requests were using.
  if (internal_server) co_await internal_server->shutdown(deadline);
  if (admin_server) co_await admin_server->shutdown(deadline);
  // The sweeper before the pool it uses; a batch in flight is cancelled.
  if (sweeper) co_await sweeper->stop();
  if (read_sources) co_await read_sources->stop();
  // The relay last: the drained requests' events get their chance to go out. This blocks
  // the loop, which has nothing left to serve, until the relay thread ended (by the deadline).
  if (relay) relay->stop(deadline);
  // Exporters last, so the spans of the drained requests and the relay's last publishes go
  // out; each returns by the deadline whatever the collector does.
  metrics.refresh();
  tracer.shutdown(deadline);
  if (metrics_exporter) metrics_exporter->shutdown(deadline);
  if (primary) primary->close();
  for (auto& r : replicas) r->close();
}

asio::awaitable<void> Runtime::Impl::main() {
  // Registered before anything starts: a signal that arrives while the listeners are
  // already open but later steps still run is queued, not fatal, and handled right after.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  // SIGHUP (sent by terminals that close and by supervisors that mean "reload") must not kill
  // a service that has nothing to reload: configuration is the environment, read once. It is
  // logged and otherwise ignored; a restart applies new settings.
  asio::signal_set hangups(io, SIGHUP);
  asio::co_spawn(io, ignore_hangups(hangups), asio::detached);
  std::exception_ptr failed;
  try {
    co_await start();
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    if (serving) {
      // The listeners were already serving: stop like on SIGTERM (drain, relay, exporters)
      // rather than leave a process that answers but is not whole. Exit code 1 all the same.
      log.error("startup failed after the listeners opened; shutting down");
      signals.cancel();
      hangups.cancel();
      co_await shutdown();
    } else {
      hangups.cancel();
      if (read_sources) co_await read_sources->stop();
      if (primary) primary->close();
      for (auto& r : replicas) r->close();
    }
    std::rethrow_exception(failed);
  }
  int signo = co_await signals.async_wait(asio::use_awaitable);
  log.info("signal received", {{"signal", signo}});
  hangups.cancel();
  co_await shutdown();
}

asio::awaitable<void> Runtime::Impl::ignore_hangups(asio::signal_set& hangups) {
  for (;;) {
    auto [ec, signo] = co_await hangups.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: shutting down
    log.info(
        "SIGHUP ignored: configuration is read once from the environment; restart to change it",
        {{"signal", signo}});
  }
}

Runtime::Runtime(config::Config config, telemetry::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(config), log)) {}

Runtime::~Runtime() = default;

int Runtime::run() {
  int exit_code = 0;
  asio::co_spawn(impl_->io, impl_->main(), on_coroutine_failure([&](const char* what) {
                   exit_code = 1;
                   if (what == nullptr) what = "unknown error";
                   impl_->log.error("startup failed", {{"error", what}});
                   std::fprintf(stderr, "userservice: startup failed: %s\n", what);
                 }));
  // run() returns once every coroutine has finished: after a graceful shutdown, or
  // right after a failed start (nothing was left running).
  impl_->io.run();
  if (exit_code == 0) impl_->log.info("stopped");
  return exit_code;
}

}  // namespace userservice::app
