#include "config/config.h"

#include <charconv>
#include <cstdlib>

#include "config/duration.h"

namespace userservice::config {

std::optional<std::string> process_getenv(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

namespace {

// Variables that an older deployment used; silently ignoring them would hide a
// misconfiguration (e.g. an operator believing TLS is on).
constexpr std::string_view kRetiredRedisVariables[] = {
    "USERSERVICE_REDIS_ADDR",
    "USERSERVICE_REDIS_USERNAME",
    "USERSERVICE_REDIS_TLS_ENABLED",
    "USERSERVICE_REDIS_KEYSPACE_PREFIX",
};

class Reader {
 public:
  explicit Reader(const Getenv& getenv) : getenv_(getenv) {}

  std::optional<std::string> raw(std::string_view name) const { return getenv_(name); }

  std::string required(std::string_view name, bool allow_empty = false) const {
    auto v = getenv_(name);
    if (!v) throw ConfigError(std::string(name), "is required but not set");
    if (!allow_empty && trim(*v).empty()) throw ConfigError(std::string(name), "must not be empty");
    return allow_empty ? *v : std::string(trim(*v));
  }

  void string(std::string_view name, std::string& out) const {
    if (auto v = getenv_(name); v && !trim(*v).empty()) out = std::string(trim(*v));
  }

  void duration(std::string_view name, Duration& out, bool allow_zero = false) const {
    auto v = getenv_(name);
    if (!v || trim(*v).empty()) return;
    std::string why;
    auto d = parse_go_duration(trim(*v), &why);
    if (!d) throw ConfigError(std::string(name), why + " (use Go syntax such as 250ms, 90s, 1m30s)");
    if (d->count() < 0 || (!allow_zero && d->count() == 0)) {
      throw ConfigError(std::string(name),
                        "must be a positive duration, got \"" + std::string(trim(*v)) + "\"");
    }
    out = *d;
  }

  template <typename Int>
  void integer(std::string_view name, Int& out, Int min, Int max) const {
    auto v = getenv_(name);
    if (!v || trim(*v).empty()) return;
    std::string_view s = trim(*v);
    Int parsed{};
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      throw ConfigError(std::string(name), "must be an integer, got \"" + std::string(s) + "\"");
    }
    if (parsed < min || parsed > max) {
      throw ConfigError(std::string(name), "must be between " + std::to_string(min) + " and " +
                                               std::to_string(max) + ", got " + std::string(s));
    }
    out = parsed;
  }

  void boolean(std::string_view name, bool& out) const {
    auto v = getenv_(name);
    if (!v || trim(*v).empty()) return;
    std::string_view s = trim(*v);
    // strconv.ParseBool's accepted spellings.
    if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") {
      out = true;
    } else if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
      out = false;
    } else {
      throw ConfigError(std::string(name), "must be a boolean (true/false), got \"" + std::string(s) + "\"");
    }
  }

  std::vector<std::string> list(std::string_view name) const {
    std::vector<std::string> out;
    auto v = getenv_(name);
    if (!v) return out;
    std::string_view s = *v;
    while (!s.empty()) {
      auto comma = s.find(',');
      std::string_view item = trim(s.substr(0, comma));
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
    return out;
  }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

 private:
  const Getenv& getenv_;
};

void check_host_port(std::string_view name, const std::string& addr, bool host_required) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    throw ConfigError(std::string(name), "must be host:port, got \"" + addr + "\"");
  }
  std::string_view host = std::string_view(addr).substr(0, colon);
  std::string_view port = std::string_view(addr).substr(colon + 1);
  if (host_required && host.empty()) {
    throw ConfigError(std::string(name), "must be host:port, got \"" + addr + "\"");
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    throw ConfigError(std::string(name), "has an invalid port in \"" + addr + "\"");
  }
}

Exporter parse_exporter(std::string_view name, const std::optional<std::string>& v) {
  if (!v || Reader::trim(*v).empty()) return Exporter::otlp;  // the OTel default
  std::string_view s = Reader::trim(*v);
  if (s == "otlp") return Exporter::otlp;
  if (s == "console") return Exporter::console;
  if (s == "none") return Exporter::none;
  throw ConfigError(std::string(name), "unsupported exporter \"" + std::string(s) +
                                           "\" (supported: otlp, console, none)");
}

std::optional<OtlpProtocol> parse_protocol(std::string_view name, const std::optional<std::string>& v) {
  if (!v || Reader::trim(*v).empty()) return std::nullopt;
  std::string_view s = Reader::trim(*v);
  if (s == "http/protobuf") return OtlpProtocol::http_protobuf;
  if (s == "http/json") return OtlpProtocol::http_json;
  throw ConfigError(std::string(name), "unsupported OTLP protocol \"" + std::string(s) +
                                           "\" (supported: http/protobuf, http/json)");
}

// OTel: a signal-specific endpoint is used as is; the generic one gets /v1/<signal> appended.
std::string signal_endpoint(const Reader& r, std::string_view specific_var, std::string_view signal) {
  if (auto v = r.raw(specific_var); v && !Reader::trim(*v).empty()) {
    return std::string(Reader::trim(*v));
  }
  std::string base = "http://localhost:4318";
  if (auto v = r.raw("OTEL_EXPORTER_OTLP_ENDPOINT"); v && !Reader::trim(*v).empty()) {
    base = std::string(Reader::trim(*v));
  }
  if (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/" + std::string(signal);
}

void check_endpoint(std::string_view name, const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    throw ConfigError(std::string(name), "must be an http:// URL, got \"" + url + "\"");
  }
}

}  // namespace

Config load(const Getenv& getenv) {
  Reader r(getenv);
  Config c;

  for (std::string_view retired : kRetiredRedisVariables) {
    if (r.raw(retired)) {
      throw ConfigError(std::string(retired),
                        "is retired and must be unset (use USERSERVICE_REDIS_MASTER_ADDR, "
                        "USERSERVICE_REDIS_PASSWORD, USERSERVICE_REDIS_DB)");
    }
  }

  // Required connection topology.
  c.redis.master_addr = r.required("USERSERVICE_REDIS_MASTER_ADDR");
  check_host_port("USERSERVICE_REDIS_MASTER_ADDR", c.redis.master_addr, true);
  c.redis.password = r.required("USERSERVICE_REDIS_PASSWORD", /*allow_empty=*/true);
  c.postgres.primary_dsn = r.required("USERSERVICE_POSTGRES_PRIMARY_DSN");

  // Core.
  r.duration("USERSERVICE_SHUTDOWN_TIMEOUT", c.shutdown_timeout);
  if (auto v = r.raw("USERSERVICE_LOG_LEVEL"); v && !Reader::trim(*v).empty()) {
    auto level = telemetry::parse_level(Reader::trim(*v));
    if (!level) {
      throw ConfigError("USERSERVICE_LOG_LEVEL", "must be one of debug, info, warn, error, got \"" +
                                                     std::string(Reader::trim(*v)) + "\"");
    }
    c.log_level = *level;
  }

  // Internal listener.
  r.string("USERSERVICE_INTERNAL_HTTP_ADDR", c.internal_http.addr);
  check_host_port("USERSERVICE_INTERNAL_HTTP_ADDR", c.internal_http.addr, false);
  r.duration("USERSERVICE_INTERNAL_HTTP_READ_HEADER_TIMEOUT", c.internal_http.read_header_timeout);
  r.duration("USERSERVICE_INTERNAL_HTTP_READ_TIMEOUT", c.internal_http.read_timeout);
  r.duration("USERSERVICE_INTERNAL_HTTP_IDLE_TIMEOUT", c.internal_http.idle_timeout);
  r.duration("USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", c.internal_request_timeout);

  // Admin listener (off unless an address is given).
  r.string("USERSERVICE_ADMIN_HTTP_ADDR", c.admin_http.addr);
  if (!c.admin_http.addr.empty()) {
    check_host_port("USERSERVICE_ADMIN_HTTP_ADDR", c.admin_http.addr, false);
  }
  r.duration("USERSERVICE_ADMIN_HTTP_READ_HEADER_TIMEOUT", c.admin_http.read_header_timeout);
  r.duration("USERSERVICE_ADMIN_HTTP_READ_TIMEOUT", c.admin_http.read_timeout);
  r.duration("USERSERVICE_ADMIN_HTTP_IDLE_TIMEOUT", c.admin_http.idle_timeout);

  // Redis.
  c.redis.replica_addrs = r.list("USERSERVICE_REDIS_REPLICA_ADDRS");
  for (const auto& a : c.redis.replica_addrs) check_host_port("USERSERVICE_REDIS_REPLICA_ADDRS", a, true);
  r.integer("USERSERVICE_REDIS_DB", c.redis.db, 0, 1 << 20);
  r.duration("USERSERVICE_REDIS_OPERATION_TIMEOUT", c.redis.operation_timeout);
  r.string("USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", c.redis.domain_events_stream);
  r.integer<std::int64_t>("USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM_MAX_LEN", c.redis.domain_events_max_len, 1,
                          std::int64_t{1} << 40);
  r.string("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", c.redis.lifecycle_events_stream);
  r.integer<std::int64_t>("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM_MAX_LEN",
                          c.redis.lifecycle_events_max_len, 1, std::int64_t{1} << 40);
  if (c.redis.domain_events_stream == c.redis.lifecycle_events_stream) {
    throw ConfigError("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM",
                      "must differ from USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM");
  }

  // PostgreSQL.
  c.postgres.replica_dsns = r.list("USERSERVICE_POSTGRES_REPLICA_DSNS");
  r.duration("USERSERVICE_POSTGRES_OPERATION_TIMEOUT", c.postgres.operation_timeout);
  r.integer("USERSERVICE_POSTGRES_MAX_OPEN_CONNS", c.postgres.max_open_conns, 1, 10000);
  r.integer("USERSERVICE_POSTGRES_MAX_IDLE_CONNS", c.postgres.max_idle_conns, 0, 10000);
  if (c.postgres.max_idle_conns > c.postgres.max_open_conns) {
    c.postgres.max_idle_conns = c.postgres.max_open_conns;
  }
  r.duration("USERSERVICE_POSTGRES_CONN_MAX_LIFETIME", c.postgres.conn_max_lifetime);

  r.duration("USERSERVICE_EXPIRY_SWEEP_INTERVAL", c.expiry_sweep_interval);

  // Telemetry (OpenTelemetry environment variables).
  r.string("OTEL_SERVICE_NAME", c.telemetry.service_name);
  c.telemetry.traces_exporter = parse_exporter("OTEL_TRACES_EXPORTER", r.raw("OTEL_TRACES_EXPORTER"));
  c.telemetry.metrics_exporter = parse_exporter("OTEL_METRICS_EXPORTER", r.raw("OTEL_METRICS_EXPORTER"));
  auto generic = parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", r.raw("OTEL_EXPORTER_OTLP_PROTOCOL"));
  auto traces = parse_protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", r.raw("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"));
  auto metrics =
      parse_protocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", r.raw("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"));
  c.telemetry.traces_protocol = traces.value_or(generic.value_or(OtlpProtocol::http_protobuf));
  c.telemetry.metrics_protocol = metrics.value_or(generic.value_or(OtlpProtocol::http_protobuf));
  c.telemetry.traces_endpoint = signal_endpoint(r, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces");
  c.telemetry.metrics_endpoint = signal_endpoint(r, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics");
  check_endpoint(r.raw("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                                                             : "OTEL_EXPORTER_OTLP_ENDPOINT",
                 c.telemetry.traces_endpoint);
  check_endpoint(r.raw("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") ? "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
                                                              : "OTEL_EXPORTER_OTLP_ENDPOINT",
                 c.telemetry.metrics_endpoint);
  r.boolean("USERSERVICE_OTEL_STDOUT_TRACES_ENABLED", c.telemetry.stdout_traces);
  r.boolean("USERSERVICE_OTEL_STDOUT_METRICS_ENABLED", c.telemetry.stdout_metrics);

  return c;
}

}  // namespace userservice::config
