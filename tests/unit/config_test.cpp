#include "config/config.h"

#include <gtest/gtest.h>

#include <map>

using namespace userservice::config;
using namespace std::chrono_literals;

namespace {

struct Env {
  std::map<std::string, std::string, std::less<>> vars = {
      {"USERSERVICE_REDIS_MASTER_ADDR", "127.0.0.1:6379"},
      {"USERSERVICE_REDIS_PASSWORD", "secret"},
      {"USERSERVICE_POSTGRES_PRIMARY_DSN", "host=127.0.0.1 dbname=users"},
  };
  Getenv getenv() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
  Config load() const { return userservice::config::load(getenv()); }
  // The variable named by the error, or "" when loading succeeded.
  std::string failing_variable() const {
    try {
      load();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(e.variable() + ": ", 0), 0u) << e.what();
      return e.variable();
    }
    return "";
  }
};

}  // namespace

TEST(Config, DefaultsMatchTheSpec) {
  Config c = Env{}.load();
  EXPECT_EQ(c.internal_http.addr, ":8091");
  EXPECT_EQ(c.internal_http.read_header_timeout, 2s);
  EXPECT_EQ(c.internal_http.read_timeout, 10s);
  EXPECT_EQ(c.internal_http.idle_timeout, 60s);
  EXPECT_EQ(c.internal_request_timeout, 3s);
  EXPECT_EQ(c.admin_http.addr, "");
  EXPECT_EQ(c.admin_http.read_header_timeout, 2s);
  EXPECT_EQ(c.admin_http.read_timeout, 10s);
  EXPECT_EQ(c.admin_http.idle_timeout, 60s);
  EXPECT_EQ(c.shutdown_timeout, 5s);
  EXPECT_EQ(c.log_level, userservice::LogLevel::info);
  EXPECT_EQ(c.redis.db, 0);
  EXPECT_EQ(c.redis.operation_timeout, 250ms);
  EXPECT_EQ(c.redis.domain_events_stream, "user:domain_events");
  EXPECT_EQ(c.redis.domain_events_max_len, 1000000);
  EXPECT_EQ(c.redis.lifecycle_events_stream, "user:lifecycle_events");
  EXPECT_EQ(c.redis.lifecycle_events_max_len, 100000);
  EXPECT_EQ(c.postgres.operation_timeout, 1s);
  EXPECT_EQ(c.postgres.max_open_conns, 20);
  EXPECT_EQ(c.postgres.max_idle_conns, 20);
  EXPECT_EQ(c.postgres.max_batch, 16);
  EXPECT_EQ(c.postgres.conn_max_lifetime, 30min);
  EXPECT_EQ(c.expiry_sweep_interval, 30s);
  EXPECT_EQ(c.telemetry.service_name, "userservice");
  EXPECT_EQ(c.telemetry.traces_exporter, Exporter::otlp);
  EXPECT_EQ(c.telemetry.traces_protocol, OtlpProtocol::http_protobuf);
  EXPECT_EQ(c.telemetry.traces_endpoint, "http://localhost:4318/v1/traces");
  EXPECT_EQ(c.telemetry.metrics_endpoint, "http://localhost:4318/v1/metrics");
  EXPECT_FALSE(c.telemetry.stdout_traces);
  EXPECT_FALSE(c.telemetry.stdout_metrics);
}

TEST(Config, ReadsEveryVariable) {
  Env env;
  env.vars.insert({
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "9s"},
      {"USERSERVICE_LOG_LEVEL", "debug"},
      {"USERSERVICE_INTERNAL_HTTP_ADDR", "127.0.0.1:18091"},
      {"USERSERVICE_INTERNAL_HTTP_READ_HEADER_TIMEOUT", "1s"},
      {"USERSERVICE_INTERNAL_HTTP_READ_TIMEOUT", "3s"},
      {"USERSERVICE_INTERNAL_HTTP_IDLE_TIMEOUT", "2m"},
      {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "1500ms"},
      {"USERSERVICE_ADMIN_HTTP_ADDR", ":9091"},
      {"USERSERVICE_ADMIN_HTTP_READ_HEADER_TIMEOUT", "4s"},
      {"USERSERVICE_ADMIN_HTTP_READ_TIMEOUT", "5s"},
      {"USERSERVICE_ADMIN_HTTP_IDLE_TIMEOUT", "6s"},
      {"USERSERVICE_REDIS_REPLICA_ADDRS", "10.0.0.1:6379, 10.0.0.2:6379"},
      {"USERSERVICE_REDIS_DB", "3"},
      {"USERSERVICE_REDIS_OPERATION_TIMEOUT", "100ms"},
      {"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", "d"},
      {"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM_MAX_LEN", "10"},
      {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", "l"},
      {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM_MAX_LEN", "20"},
      {"USERSERVICE_POSTGRES_REPLICA_DSNS", "host=r1,host=r2"},
      {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "2s"},
      {"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "8"},
      {"USERSERVICE_POSTGRES_MAX_IDLE_CONNS", "4"},
      {"USERSERVICE_POSTGRES_CONN_MAX_LIFETIME", "1h"},
      {"USERSERVICE_POSTGRES_MAX_BATCH", "1"},
      {"USERSERVICE_EXPIRY_SWEEP_INTERVAL", "5s"},
      {"OTEL_SERVICE_NAME", "users-eu"},
      {"OTEL_TRACES_EXPORTER", "console"},
      {"OTEL_METRICS_EXPORTER", "none"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
      {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
      {"USERSERVICE_OTEL_STDOUT_TRACES_ENABLED", "true"},
      {"USERSERVICE_OTEL_STDOUT_METRICS_ENABLED", "1"},
  });
  Config c = env.load();
  EXPECT_EQ(c.shutdown_timeout, 9s);
  EXPECT_EQ(c.log_level, userservice::LogLevel::debug);
  EXPECT_EQ(c.internal_http.addr, "127.0.0.1:18091");
  EXPECT_EQ(c.internal_http.read_header_timeout, 1s);
  EXPECT_EQ(c.internal_http.read_timeout, 3s);
  EXPECT_EQ(c.internal_http.idle_timeout, 2min);
  EXPECT_EQ(c.internal_request_timeout, 1500ms);
  EXPECT_EQ(c.admin_http.addr, ":9091");
  EXPECT_EQ(c.admin_http.read_header_timeout, 4s);
  EXPECT_EQ(c.admin_http.read_timeout, 5s);
  EXPECT_EQ(c.admin_http.idle_timeout, 6s);
  EXPECT_EQ(c.redis.replica_addrs, (std::vector<std::string>{"10.0.0.1:6379", "10.0.0.2:6379"}));
  EXPECT_EQ(c.redis.db, 3);
  EXPECT_EQ(c.redis.operation_timeout, 100ms);
  EXPECT_EQ(c.redis.domain_events_stream, "d");
  EXPECT_EQ(c.redis.domain_events_max_len, 10);
  EXPECT_EQ(c.redis.lifecycle_events_stream, "l");
  EXPECT_EQ(c.redis.lifecycle_events_max_len, 20);
  EXPECT_EQ(c.postgres.replica_dsns, (std::vector<std::string>{"host=r1", "host=r2"}));
  EXPECT_EQ(c.postgres.operation_timeout, 2s);
  EXPECT_EQ(c.postgres.max_open_conns, 8);
  EXPECT_EQ(c.postgres.max_idle_conns, 4);
  EXPECT_EQ(c.postgres.conn_max_lifetime, 1h);
  EXPECT_EQ(c.postgres.max_batch, 1);
  EXPECT_EQ(c.expiry_sweep_interval, 5s);
  EXPECT_EQ(c.telemetry.service_name, "users-eu");
  EXPECT_EQ(c.telemetry.traces_exporter, Exporter::console);
  EXPECT_EQ(c.telemetry.metrics_exporter, Exporter::none);
  EXPECT_EQ(c.telemetry.traces_protocol, OtlpProtocol::http_json);
  EXPECT_EQ(c.telemetry.metrics_protocol, OtlpProtocol::http_protobuf);
  EXPECT_EQ(c.telemetry.traces_endpoint, "http://collector:4318/v1/traces");
  EXPECT_TRUE(c.telemetry.stdout_traces);
  EXPECT_TRUE(c.telemetry.stdout_metrics);
}

TEST(Config, EachRequiredVariableIsNamedWhenMissing) {
  for (const char* name : {"USERSERVICE_REDIS_MASTER_ADDR", "USERSERVICE_REDIS_PASSWORD",
                           "USERSERVICE_POSTGRES_PRIMARY_DSN"}) {
    Env env;
    env.vars.erase(name);
    EXPECT_EQ(env.failing_variable(), name);
  }
}

TEST(Config, RedisPasswordMayBeEmptyButMustBePresent) {
  Env env;
  env.vars["USERSERVICE_REDIS_PASSWORD"] = "";
  EXPECT_EQ(env.failing_variable(), "");
  env.vars["USERSERVICE_POSTGRES_PRIMARY_DSN"] = "";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_PRIMARY_DSN");
}

TEST(Config, RetiredRedisVariablesAreRejectedEvenWhenEmpty) {
  for (const char* name : {"USERSERVICE_REDIS_ADDR", "USERSERVICE_REDIS_USERNAME",
                           "USERSERVICE_REDIS_TLS_ENABLED", "USERSERVICE_REDIS_KEYSPACE_PREFIX"}) {
    Env env;
    env.vars[name] = "";
    EXPECT_EQ(env.failing_variable(), name);
  }
}

TEST(Config, MalformedValuesNameTheirVariable) {
  const std::pair<const char*, const char*> cases[] = {
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "5"},
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "-1s"},
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "0"},
      {"USERSERVICE_INTERNAL_HTTP_READ_HEADER_TIMEOUT", "2 seconds"},
      {"USERSERVICE_INTERNAL_HTTP_READ_TIMEOUT", "abc"},
      {"USERSERVICE_INTERNAL_HTTP_IDLE_TIMEOUT", "1d"},
      {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "3S"},
      {"USERSERVICE_ADMIN_HTTP_READ_HEADER_TIMEOUT", "x"},
      {"USERSERVICE_ADMIN_HTTP_READ_TIMEOUT", "x"},
      {"USERSERVICE_ADMIN_HTTP_IDLE_TIMEOUT", "x"},
      {"USERSERVICE_REDIS_OPERATION_TIMEOUT", "250"},
      {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "1sec"},
      {"USERSERVICE_POSTGRES_CONN_MAX_LIFETIME", "forever"},
      {"USERSERVICE_EXPIRY_SWEEP_INTERVAL", "30"},
      {"USERSERVICE_LOG_LEVEL", "verbose"},
      {"USERSERVICE_INTERNAL_HTTP_ADDR", "8091"},
      {"USERSERVICE_INTERNAL_HTTP_ADDR", ":99999"},
      {"USERSERVICE_ADMIN_HTTP_ADDR", "localhost"},
      {"USERSERVICE_REDIS_MASTER_ADDR", "localhost"},
      {"USERSERVICE_REDIS_MASTER_ADDR", ":6379"},
      {"USERSERVICE_REDIS_REPLICA_ADDRS", "a:1,b"},
      {"USERSERVICE_REDIS_DB", "-1"},
      {"USERSERVICE_REDIS_DB", "one"},
      {"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM_MAX_LEN", "0"},
      {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM_MAX_LEN", "1e6"},
      {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", "user:domain_events"},
      {"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "0"},
      {"USERSERVICE_POSTGRES_MAX_IDLE_CONNS", "-2"},
      {"USERSERVICE_POSTGRES_MAX_BATCH", "0"},
      {"USERSERVICE_IDEMPOTENCY_KEY_TTL", "1h"},
      {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "2562047h"},  // ~292 years: would overflow
      {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "25h"},
      {"USERSERVICE_SHUTDOWN_TIMEOUT", "24h1s"},
      {"USERSERVICE_POSTGRES_CONN_MAX_LIFETIME", "721h"},
      {"USERSERVICE_INTERNAL_HTTP_MAX_CONNECTIONS", "-1"},
      {"USERSERVICE_ADMIN_HTTP_MAX_CONNECTIONS", "many"},
      {"USERSERVICE_OUTBOX_LEADER_TIMEOUT", "2s"},
      {"USERSERVICE_OUTBOX_LEADER_TIMEOUT", "11m"},
      {"USERSERVICE_REDIS_WAIT_REPLICAS", "-1"},
      {"USERSERVICE_REDIS_WAIT_REPLICAS", "65"},
      {"USERSERVICE_REDIS_WAIT_TIMEOUT", "3s"},
      {"USERSERVICE_IDEMPOTENCY_KEY_TTL", "721h"},
      {"USERSERVICE_IDEMPOTENCY_KEY_TTL", "1d"},
      {"OTEL_TRACES_EXPORTER", "jaeger"},
      {"OTEL_METRICS_EXPORTER", "prometheus"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
      {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"},
      {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"},
      {"USERSERVICE_OTEL_STDOUT_TRACES_ENABLED", "yes"},
      {"USERSERVICE_OTEL_STDOUT_METRICS_ENABLED", "2"},
  };
  for (auto [name, value] : cases) {
    Env env;
    env.vars[name] = value;
    EXPECT_EQ(env.failing_variable(), name) << name << "=" << value;
  }
}

TEST(Config, RelayLeaderTimeoutBoundsTheRedisCallsInBetween) {
  Config c = Env{}.load();
  EXPECT_EQ(c.outbox_leader_timeout, 10s);
  EXPECT_EQ(c.redis.wait_replicas, 0);
  EXPECT_EQ(c.redis.wait_timeout, 1s);
  Env env;
  env.vars["USERSERVICE_OUTBOX_LEADER_TIMEOUT"] = "4s";
  env.vars["USERSERVICE_REDIS_WAIT_REPLICAS"] = "2";
  env.vars["USERSERVICE_REDIS_WAIT_TIMEOUT"] = "1s";
  c = env.load();
  EXPECT_EQ(c.outbox_leader_timeout, 4s);
  EXPECT_EQ(c.redis.wait_replicas, 2);
  env.vars["USERSERVICE_REDIS_WAIT_TIMEOUT"] = "1001ms";  // over a quarter of 4s
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_REDIS_WAIT_TIMEOUT");
  env.vars["USERSERVICE_REDIS_WAIT_TIMEOUT"] = "1s";
  env.vars["USERSERVICE_REDIS_OPERATION_TIMEOUT"] = "2s";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_REDIS_OPERATION_TIMEOUT");
}

TEST(Config, IdempotencyKeysLiveADayByDefaultAndAtLeastADay) {
  EXPECT_EQ(Env{}.load().idempotency_key_ttl, 24h);
  Env env;
  env.vars["USERSERVICE_IDEMPOTENCY_KEY_TTL"] = "168h";
  EXPECT_EQ(env.load().idempotency_key_ttl, 168h);
  env.vars["USERSERVICE_IDEMPOTENCY_KEY_TTL"] = "23h59m";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_IDEMPOTENCY_KEY_TTL");
}

TEST(Config, IdleConnectionsDefaultToOpenConnections) {
  Env env;
  env.vars["USERSERVICE_POSTGRES_MAX_OPEN_CONNS"] = "7";
  EXPECT_EQ(env.load().postgres.max_idle_conns, 7);
  env.vars["USERSERVICE_POSTGRES_MAX_IDLE_CONNS"] = "0";
  EXPECT_EQ(env.load().postgres.max_idle_conns, 0);
}

TEST(Config, IdleConnectionsAreClampedToOpenConnections) {
  Env env;
  env.vars["USERSERVICE_POSTGRES_MAX_OPEN_CONNS"] = "4";
  env.vars["USERSERVICE_POSTGRES_MAX_IDLE_CONNS"] = "10";
  EXPECT_EQ(env.load().postgres.max_idle_conns, 4);
}

TEST(Config, SignalSpecificEndpointIsUsedAsIs) {
  Env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://a:4318";
  env.vars["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://b:9999/custom";
  Config c = env.load();
  EXPECT_EQ(c.telemetry.traces_endpoint, "http://b:9999/custom");
  EXPECT_EQ(c.telemetry.metrics_endpoint, "http://a:4318/v1/metrics");
}

TEST(Config, OtelSdkDefaults) {
  Config c = Env{}.load();
  EXPECT_EQ(c.telemetry.bsp_schedule_delay, 5000ms);
  EXPECT_EQ(c.telemetry.bsp_export_timeout, 30000ms);
  EXPECT_EQ(c.telemetry.bsp_max_queue_size, 2048u);
  EXPECT_EQ(c.telemetry.bsp_max_export_batch_size, 512u);
  EXPECT_EQ(c.telemetry.metric_export_interval, 60000ms);
  EXPECT_EQ(c.telemetry.metric_export_timeout, 30000ms);
  EXPECT_EQ(c.telemetry.traces_timeout, 10000ms);
  EXPECT_EQ(c.telemetry.metrics_timeout, 10000ms);
  EXPECT_TRUE(c.telemetry.traces_headers.empty());
  EXPECT_TRUE(c.telemetry.metrics_headers.empty());
  EXPECT_TRUE(c.telemetry.resource_attributes.empty());
}

TEST(Config, ReadsOtelSdkVariables) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  Env env;
  env.vars.insert({
      {"OTEL_BSP_SCHEDULE_DELAY", "250"},
      {"OTEL_BSP_EXPORT_TIMEOUT", "1500"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"},
      {"OTEL_METRIC_EXPORT_INTERVAL", "1000"},
      {"OTEL_METRIC_EXPORT_TIMEOUT", "500"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "2000"},
      {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3000"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc, X-Tenant=eu"},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=us,X-Only-Traces=1"},
      {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=a%2Cb,,k=%3D"},
  });
  Config c = env.load();
  EXPECT_EQ(c.telemetry.bsp_schedule_delay, 250ms);
  EXPECT_EQ(c.telemetry.bsp_export_timeout, 1500ms);
  EXPECT_EQ(c.telemetry.bsp_max_queue_size, 100u);
  EXPECT_EQ(c.telemetry.bsp_max_export_batch_size, 10u);
  EXPECT_EQ(c.telemetry.metric_export_interval, 1000ms);
  EXPECT_EQ(c.telemetry.metric_export_timeout, 500ms);
  EXPECT_EQ(c.telemetry.traces_timeout, 2000ms);
  EXPECT_EQ(c.telemetry.metrics_timeout, 3000ms);
  // Signal-specific headers replace generic ones of the same name (case-insensitively).
  EXPECT_EQ(c.telemetry.traces_headers,
            (Pairs{{"Authorization", "Bearer abc"}, {"x-tenant", "us"}, {"X-Only-Traces", "1"}}));
  EXPECT_EQ(c.telemetry.metrics_headers,
            (Pairs{{"Authorization", "Bearer abc"}, {"X-Tenant", "eu"}}));
  EXPECT_EQ(c.telemetry.resource_attributes,
            (Pairs{{"deployment.environment", "prod"}, {"team", "a,b"}, {"k", "="}}));
  EXPECT_EQ(c.telemetry.service_name, "userservice");
}

TEST(Config, ServiceNameFromResourceAttributesUnlessOtelServiceNameIsSet) {
  Env env;
  env.vars["OTEL_RESOURCE_ATTRIBUTES"] = "service.name=from-resource";
  EXPECT_EQ(env.load().telemetry.service_name, "from-resource");
  env.vars["OTEL_SERVICE_NAME"] = "explicit";
  EXPECT_EQ(env.load().telemetry.service_name, "explicit");
}

TEST(Config, SmallerQueueShrinksTheDefaultBatch) {
  Env env;
  env.vars["OTEL_BSP_MAX_QUEUE_SIZE"] = "64";
  EXPECT_EQ(env.load().telemetry.bsp_max_export_batch_size, 64u);
}

TEST(Config, HttpsEndpointIsAnErrorOnlyWhenOtlpExportsTo) {
  Env env;
  env.vars["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "https://collector:4318/v1/traces";
  try {
    env.load();
    ADD_FAILURE() << "https accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    EXPECT_NE(std::string(e.what()).find("https:// is not supported"), std::string::npos)
        << e.what();
  }
  env.vars["OTEL_TRACES_EXPORTER"] = "none";
  EXPECT_EQ(env.failing_variable(), "");
  Env generic;
  generic.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://collector:4318";
  EXPECT_EQ(generic.failing_variable(), "OTEL_EXPORTER_OTLP_ENDPOINT");
}

TEST(Config, InvalidOtelSdkValuesNameTheirVariable) {
  const std::pair<std::string, std::string> cases[] = {
      {"OTEL_BSP_SCHEDULE_DELAY", "5s"},
      {"OTEL_BSP_SCHEDULE_DELAY", "0"},
      {"OTEL_BSP_EXPORT_TIMEOUT", "-1"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "many"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"},  // over the default queue size
      {"OTEL_METRIC_EXPORT_INTERVAL", "1m"},
      {"OTEL_METRIC_EXPORT_TIMEOUT", "1.5"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "ten"},
      {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"},
      {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", ""},  // empty: default, not an error
      {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "bad name=x"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "x=a%0d%0aInjected: 1"},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=v"},
      {"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "k=%zz"},
      {"OTEL_RESOURCE_ATTRIBUTES", "k=%4"},
      {"OTEL_RESOURCE_ATTRIBUTES", "justakey"},
      {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://:4318/v1/metrics"},
  };
  for (const auto& [name, value] : cases) {
    Env env;
    env.vars[name] = value;
    EXPECT_EQ(env.failing_variable(), value.empty() ? "" : name) << name << "=" << value;
  }
}

TEST(Config, ADsnLibpqCannotParseIsAConfigurationError) {
  Env env;
  env.vars["USERSERVICE_POSTGRES_PRIMARY_DSN"] = "host=x port";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_PRIMARY_DSN");
  env = Env{};
  env.vars["USERSERVICE_POSTGRES_REPLICA_DSNS"] = "host=a,postgresql://[::1";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_REPLICA_DSNS entry 2");
  env = Env{};
  env.vars["USERSERVICE_POSTGRES_PRIMARY_DSN"] =
      "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write";
  EXPECT_EQ(env.failing_variable(), "");
}

TEST(Config, ConnMaxIdleTimeDefaultsToNeverAndAcceptsZero) {
  Env env;
  EXPECT_EQ(env.load().postgres.conn_max_idle_time, 0s);
  env.vars["USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME"] = "5m";
  EXPECT_EQ(env.load().postgres.conn_max_idle_time, 5min);
  env.vars["USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME"] = "0";
  EXPECT_EQ(env.load().postgres.conn_max_idle_time, 0s);
  env.vars["USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME"] = "-1s";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME");
  env.vars["USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME"] = "721h";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME");
  // Zero still means "unset is invalid" elsewhere: other durations must be positive.
  env = Env{};
  env.vars["USERSERVICE_POSTGRES_CONN_MAX_LIFETIME"] = "0";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_CONN_MAX_LIFETIME");
}

TEST(Config, TransactionPoolingNeedsASessionDsn) {
  Env env;
  EXPECT_EQ(env.load().postgres.pooling, userservice::config::Pooling::session);
  EXPECT_EQ(env.load().postgres.session_dsn, "");
  env.vars["USERSERVICE_POSTGRES_POOLING"] = "transaction";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_SESSION_DSN");
  env.vars["USERSERVICE_POSTGRES_SESSION_DSN"] = "host=db port";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_SESSION_DSN");
  env.vars["USERSERVICE_POSTGRES_SESSION_DSN"] = "host=db port=5432 dbname=users";
  EXPECT_EQ(env.failing_variable(), "");
  EXPECT_EQ(env.load().postgres.pooling, userservice::config::Pooling::transaction);
  EXPECT_EQ(env.load().postgres.session_dsn, "host=db port=5432 dbname=users");
  env.vars["USERSERVICE_POSTGRES_POOLING"] = "statement";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_POOLING");
  env.vars["USERSERVICE_POSTGRES_POOLING"] = "session";
  EXPECT_EQ(env.failing_variable(), "");
}

TEST(Config, ReplicaReadsNamesTheAdminReadsThatMayUseReplicas) {
  Env env;
  auto r = env.load().postgres.replica_reads;
  EXPECT_TRUE(r.listing);
  EXPECT_FALSE(r.lookups);
  EXPECT_FALSE(r.history);
  env.vars["USERSERVICE_POSTGRES_REPLICA_READS"] = "lookups, history";
  r = env.load().postgres.replica_reads;
  EXPECT_FALSE(r.listing);
  EXPECT_TRUE(r.lookups);
  EXPECT_TRUE(r.history);
  env.vars["USERSERVICE_POSTGRES_REPLICA_READS"] = "none";
  r = env.load().postgres.replica_reads;
  EXPECT_FALSE(r.listing || r.lookups || r.history);
  for (const char* bad : {"accounts", "none,listing", "listing,writes"}) {
    env.vars["USERSERVICE_POSTGRES_REPLICA_READS"] = bad;
    EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_REPLICA_READS") << bad;
  }
}

TEST(Config, CoalesceReadsIsOnByDefaultAndABoolean) {
  Env env;
  EXPECT_TRUE(env.load().postgres.coalesce_reads);
  env.vars["USERSERVICE_POSTGRES_COALESCE_READS"] = "false";
  EXPECT_FALSE(env.load().postgres.coalesce_reads);
  env.vars["USERSERVICE_POSTGRES_COALESCE_READS"] = "sometimes";
  EXPECT_EQ(env.failing_variable(), "USERSERVICE_POSTGRES_COALESCE_READS");
}
