#pragma once
// Every configuration variable (docs/design.md groups them; README lists them), with their
// defaults. Loading validates everything up front: the process either starts with a complete,
// coherent Config or exits with one line naming the offending variable.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log_level.h"

namespace userservice::config {

using namespace std::chrono_literals;
using Duration = std::chrono::nanoseconds;

// "USERSERVICE_X: what is wrong" — what() is the one line printed at startup.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string variable, const std::string& problem)
      : std::runtime_error(variable + ": " + problem), variable_(std::move(variable)) {}
  const std::string& variable() const noexcept { return variable_; }

 private:
  std::string variable_;
};

struct ListenerConfig {
  std::string addr;  // "host:port" or ":port"; empty = listener off (admin only)
  Duration read_header_timeout = 2s;
  Duration read_timeout = 10s;
  Duration idle_timeout = 60s;
  // Concurrent client connections at most (USERSERVICE_*_HTTP_MAX_CONNECTIONS); 0: derived at
  // start from the descriptor limit, keeping a reserve for PostgreSQL, Redis and OTLP.
  int max_connections = 0;
};

struct RedisConfig {
  std::string master_addr;  // host:port
  std::string password;     // may be empty (Redis without AUTH)
  std::vector<std::string> replica_addrs;
  int db = 0;
  Duration operation_timeout = 250ms;
  std::string domain_events_stream = "user:domain_events";
  std::int64_t domain_events_max_len = 1'000'000;
  std::string lifecycle_events_stream = "user:lifecycle_events";
  std::int64_t lifecycle_events_max_len = 100'000;
  // Durable hand-off (USERSERVICE_REDIS_WAIT_REPLICAS / _WAIT_TIMEOUT): replicas that must
  // acknowledge a published batch (WAIT) before its rows leave the outbox; 0: off.
  int wait_replicas = 0;
  Duration wait_timeout = 1s;
};

// USERSERVICE_POSTGRES_POOLING: what sits between the service and PostgreSQL on the primary
// and replica DSNs. session: PostgreSQL itself or a session-mode pooler (named prepared
// statements, session settings); transaction: a transaction-mode pooler such as PgBouncer
// with pool_mode=transaction (see PoolOptions::transaction_pooling).
enum class Pooling { session, transaction };

struct PostgresConfig {
  std::string primary_dsn;
  Pooling pooling = Pooling::session;
  // USERSERVICE_POSTGRES_SESSION_DSN: where migrations and the outbox relay (session advisory
  // locks) connect; empty means primary_dsn. Required with Pooling::transaction.
  std::string session_dsn;
  std::vector<std::string> replica_dsns;
  // USERSERVICE_POSTGRES_REPLICA_MAX_LAG: a replica whose replay lags more than this is
  // skipped (reads go to another replica or the primary); 100ms to 1h.
  Duration replica_max_lag = 5s;
  // USERSERVICE_POSTGRES_REPLICA_READS: which read-only admin routes may read a replica
  // (comma-separated listing, lookups, history; or none). Default: listing.
  struct ReplicaReads {
    bool listing = true;
    bool lookups = false;
    bool history = false;
  } replica_reads;
  Duration operation_timeout = 1s;
  int max_open_conns = 20;
  // Unset: equal to max_open_conns (a surplus only closes after idling, see PoolOptions).
  // Clamped to max_open_conns.
  int max_idle_conns = 20;
  // Queued requests that may share one round trip when every connection is busy; 1: off.
  // An addition to the original variables (USERSERVICE_POSTGRES_MAX_BATCH).
  int max_batch = 16;
  // USERSERVICE_POSTGRES_COALESCE_READS: with every connection busy, queued one-key reads of
  // one kind share one set-based statement (PoolOptions::coalesce_reads).
  bool coalesce_reads = true;
  Duration conn_max_lifetime = 30min;
  // USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME: an idle connection is closed after this long
  // (Go's SetConnMaxIdleTime); 0 = never.
  Duration conn_max_idle_time = Duration::zero();
};

enum class Exporter { otlp, console, none };
enum class OtlpProtocol { http_protobuf, http_json };

struct TelemetryConfig {
  std::string service_name = "userservice";
  Exporter traces_exporter = Exporter::otlp;
  Exporter metrics_exporter = Exporter::otlp;
  OtlpProtocol traces_protocol = OtlpProtocol::http_protobuf;
  OtlpProtocol metrics_protocol = OtlpProtocol::http_protobuf;
  std::string traces_endpoint = "http://localhost:4318/v1/traces";
  std::string metrics_endpoint = "http://localhost:4318/v1/metrics";
  bool stdout_traces = false;
  bool stdout_metrics = false;
  // OTEL_EXPORTER_OTLP_HEADERS, overridden per name by OTEL_EXPORTER_OTLP_{TRACES,METRICS}_HEADERS
  // ("k=v,k2=v2", values percent-decoded).
  std::vector<std::pair<std::string, std::string>> traces_headers;
  std::vector<std::pair<std::string, std::string>> metrics_headers;
  // OTEL_EXPORTER_OTLP_TIMEOUT, overridden by OTEL_EXPORTER_OTLP_{TRACES,METRICS}_TIMEOUT
  // (integer milliseconds): one HTTP request to the collector.
  Duration traces_timeout = 10s;
  Duration metrics_timeout = 10s;
  // OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", percent-decoded), in order. Its service.name is used
  // as service_name when OTEL_SERVICE_NAME is unset.
  std::vector<std::pair<std::string, std::string>> resource_attributes;
  // Batch span processor: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (milliseconds),
  // OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE (<= the queue size).
  Duration bsp_schedule_delay = 5s;
  Duration bsp_export_timeout = 30s;
  std::size_t bsp_max_queue_size = 2048;
  std::size_t bsp_max_export_batch_size = 512;
  // Periodic metric reader: OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT (milliseconds).
  Duration metric_export_interval = 60s;
  Duration metric_export_timeout = 30s;
};

struct Config {
  Duration shutdown_timeout = 5s;
  LogLevel log_level = LogLevel::info;
  ListenerConfig internal_http{":8091"};
  Duration internal_request_timeout = 3s;
  ListenerConfig admin_http{""};
  RedisConfig redis;
  PostgresConfig postgres;
  Duration expiry_sweep_interval = 30s;
  // USERSERVICE_OUTBOX_LEADER_TIMEOUT: the longest a relay leader that stopped talking to
  // PostgreSQL (frozen, cut off) keeps the lead; 3s to 10m.
  Duration outbox_leader_timeout = 10s;
  // How long a stored Idempotency-Key answer is replayed (docs/api.md); 24h to 720h. The
  // sweeper deletes keys past it.
  Duration idempotency_key_ttl = 24h;
  TelemetryConfig telemetry;
};

using Getenv = std::function<std::optional<std::string>(std::string_view name)>;

// Reads the process environment.
std::optional<std::string> process_getenv(std::string_view name);

// Throws ConfigError for the first problem found.
Config load(const Getenv& getenv = process_getenv);

}  // namespace userservice::config
