#include "config/config.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/host_port.h"
#include "common/http_url.h"
#include "common/percent_decode.h"
#include "common/strings.h"
#include "common/utf8.h"
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

  // Every duration has a documented maximum (24h unless said otherwise): a deadline is
  // `now + duration`, and Go syntax accepts up to ~292 years, which would overflow it.
  // `allow_zero`: "0" is accepted and means "no limit" for this setting.
  void duration(std::string_view name, Duration& out, Duration max = 24h,
                bool allow_zero = false) const {
    auto v = getenv_(name);
    if (!v || trim(*v).empty()) return;
    std::string why;
    auto d = parse_go_duration(trim(*v), &why);
    if (!d)
      throw ConfigError(std::string(name), why + " (use Go syntax such as 250ms, 90s, 1m30s)");
    if (allow_zero && d->count() == 0) {
      out = Duration::zero();
      return;
    }
    if (d->count() <= 0) {
      throw ConfigError(std::string(name),
                        "must be a positive duration, got " + quote_text(trim(*v)));
    }
    if (*d > max) {
      throw ConfigError(std::string(name), "must be at most " + format_go_duration(max) + ", got " +
                                               quote_text(trim(*v)));
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
      throw ConfigError(std::string(name), "must be an integer, got " + quote_text(s));
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
      throw ConfigError(std::string(name), "must be a boolean (true/false), got " + quote_text(s));
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

 private:
  const Getenv& getenv_;
};

void check_host_port(std::string_view name, const std::string& addr, bool host_required) {
  const auto parts = split_host_port(addr);
  if (!parts || (host_required && parts->host.empty())) {
    throw ConfigError(std::string(name), "must be host:port, got " + quote_text(addr));
  }
  if (!parse_port(parts->port)) {
    throw ConfigError(std::string(name), "has an invalid port in " + quote_text(addr));
  }
}

Exporter parse_exporter(std::string_view name, const std::optional<std::string>& v) {
  if (!v || trim(*v).empty()) return Exporter::otlp;  // the OTel default
  std::string_view s = trim(*v);
  if (s == "otlp") return Exporter::otlp;
  if (s == "console") return Exporter::console;
  if (s == "none") return Exporter::none;
  throw ConfigError(std::string(name),
                    "unsupported exporter " + quote_text(s) + " (supported: otlp, console, none)");
}

std::optional<OtlpProtocol> parse_protocol(std::string_view name,
                                           const std::optional<std::string>& v) {
  if (!v || trim(*v).empty()) return std::nullopt;
  std::string_view s = trim(*v);
  if (s == "http/protobuf") return OtlpProtocol::http_protobuf;
  if (s == "http/json") return OtlpProtocol::http_json;
  throw ConfigError(std::string(name), "unsupported OTLP protocol " + quote_text(s) +
                                           " (supported: http/protobuf, http/json)");
}

// OTel: a signal-specific endpoint is used as is; the generic one gets /v1/<signal> appended.
std::string signal_endpoint(const Reader& r, std::string_view specific_var,
                            std::string_view signal) {
  if (auto v = r.raw(specific_var); v && !trim(*v).empty()) {
    return std::string(trim(*v));
  }
  std::string base = "http://localhost:4318";
  if (auto v = r.raw("OTEL_EXPORTER_OTLP_ENDPOINT"); v && !trim(*v).empty()) {
    base = std::string(trim(*v));
  }
  if (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/" + std::string(signal);
}

// OTel SDK variables that hold integer milliseconds (OTEL_BSP_SCHEDULE_DELAY and friends).
void milliseconds(const Reader& r, std::string_view name, Duration& out) {
  auto v = r.raw(name);
  if (!v || trim(*v).empty()) return;
  std::string_view s = trim(*v);
  std::int64_t parsed = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (ec != std::errc() || ptr != s.data() + s.size() || parsed <= 0 ||
      parsed > std::int64_t{24} * 3600 * 1000) {
    throw ConfigError(std::string(name),
                      "must be a positive integer number of milliseconds, got " + quote_text(s));
  }
  out = std::chrono::milliseconds(parsed);
}

std::size_t positive_count(const Reader& r, std::string_view name, std::size_t fallback) {
  std::int64_t value = static_cast<std::int64_t>(fallback);
  r.integer<std::int64_t>(name, value, 1, 1'000'000);
  return static_cast<std::size_t>(value);
}

// RFC 3986 percent-decoding, as the OTel spec asks for OTEL_RESOURCE_ATTRIBUTES and the
// OTLP headers variables.
std::string percent_decode(std::string_view name, std::string_view s) {
  std::string out;
  if (!common::percent_decode(s, out)) {
    throw ConfigError(std::string(name), "has an invalid percent-escape");
  }
  return out;
}

// "key1=value1,key2=value2" (W3C Baggage-like). Empty members are skipped.
std::vector<std::pair<std::string, std::string>> key_values(const Reader& r, std::string_view name,
                                                            bool http_headers) {
  std::vector<std::pair<std::string, std::string>> out;
  auto v = r.raw(name);
  if (!v) return out;
  std::string_view rest = *v;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view member = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (member.empty()) continue;
    auto eq = member.find('=');
    if (eq == std::string_view::npos) {
      // The entry is not echoed: header values are often credentials.
      throw ConfigError(std::string(name),
                        "must be a list of key=value pairs (an entry has no '=')");
    }
    std::string key = percent_decode(name, trim(member.substr(0, eq)));
    std::string value = percent_decode(name, trim(member.substr(eq + 1)));
    if (key.empty()) throw ConfigError(std::string(name), "has an entry with an empty key");
    if (http_headers) {
      static constexpr std::string_view kTokenChars = "!#$%&'*+-.^_`|~";
      for (char c : key) {
        if (!std::isalnum(static_cast<unsigned char>(c)) &&
            kTokenChars.find(c) == std::string_view::npos) {
          throw ConfigError(std::string(name), "has an invalid header name " + quote_text(key));
        }
      }
      for (char c : value) {
        // CR/LF would let a value smuggle extra headers into the request.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
          throw ConfigError(std::string(name),
                            "has a control character in header " + quote_text(key));
        }
      }
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// Signal-specific entries replace generic ones with the same (case-insensitive) name.
std::vector<std::pair<std::string, std::string>> merge_headers(
    std::vector<std::pair<std::string, std::string>> generic,
    const std::vector<std::pair<std::string, std::string>>& specific) {
  auto same = [](const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& [k, v] : specific) {
    std::erase_if(generic, [&](const auto& kv) { return same(kv.first, k); });
  }
  generic.insert(generic.end(), specific.begin(), specific.end());
  return generic;
}

void check_endpoint(std::string_view name, const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    throw ConfigError(std::string(name), "must be an http:// URL, got " + quote_text(url));
  }
}

// A connection string libpq cannot parse fails the configuration, naming the variable, rather
// than the first connect. (Parsing only: nothing is resolved or contacted.)
void check_dsn(const std::string& name, const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &err);
  if (parsed != nullptr) {
    PQconninfoFree(parsed);
    return;
  }
  std::string why = err != nullptr ? err : "out of memory";
  if (err != nullptr) PQfreemem(err);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  throw ConfigError(name, "is not a connection string libpq accepts: " + why);
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
  check_dsn("USERSERVICE_POSTGRES_PRIMARY_DSN", c.postgres.primary_dsn);

  // Core.
  r.duration("USERSERVICE_SHUTDOWN_TIMEOUT", c.shutdown_timeout);
  if (auto v = r.raw("USERSERVICE_LOG_LEVEL"); v && !trim(*v).empty()) {
    auto level = parse_log_level(trim(*v));
    if (!level) {
      throw ConfigError("USERSERVICE_LOG_LEVEL",
                        "must be one of debug, info, warn, error, got " + quote_text(trim(*v)));
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
  r.integer("USERSERVICE_INTERNAL_HTTP_MAX_CONNECTIONS", c.internal_http.max_connections, 0,
            1'000'000);

  // Admin listener (off unless an address is given).
  r.string("USERSERVICE_ADMIN_HTTP_ADDR", c.admin_http.addr);
  if (!c.admin_http.addr.empty()) {
    check_host_port("USERSERVICE_ADMIN_HTTP_ADDR", c.admin_http.addr, false);
  }
  r.duration("USERSERVICE_ADMIN_HTTP_READ_HEADER_TIMEOUT", c.admin_http.read_header_timeout);
  r.duration("USERSERVICE_ADMIN_HTTP_READ_TIMEOUT", c.admin_http.read_timeout);
  r.duration("USERSERVICE_ADMIN_HTTP_IDLE_TIMEOUT", c.admin_http.idle_timeout);
  r.integer("USERSERVICE_ADMIN_HTTP_MAX_CONNECTIONS", c.admin_http.max_connections, 0, 1'000'000);

  // Redis.
  c.redis.replica_addrs = r.list("USERSERVICE_REDIS_REPLICA_ADDRS");
  for (const auto& a : c.redis.replica_addrs)
    check_host_port("USERSERVICE_REDIS_REPLICA_ADDRS", a, true);
  r.integer("USERSERVICE_REDIS_DB", c.redis.db, 0, 1 << 20);
  r.duration("USERSERVICE_REDIS_OPERATION_TIMEOUT", c.redis.operation_timeout);
  r.string("USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", c.redis.domain_events_stream);
  r.integer<std::int64_t>("USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM_MAX_LEN",
                          c.redis.domain_events_max_len, 1, std::int64_t{1} << 40);
  r.string("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", c.redis.lifecycle_events_stream);
  r.integer<std::int64_t>("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM_MAX_LEN",
                          c.redis.lifecycle_events_max_len, 1, std::int64_t{1} << 40);
  r.integer("USERSERVICE_REDIS_WAIT_REPLICAS", c.redis.wait_replicas, 0, 64);
  r.duration("USERSERVICE_REDIS_WAIT_TIMEOUT", c.redis.wait_timeout);
  if (c.redis.domain_events_stream == c.redis.lifecycle_events_stream) {
    throw ConfigError("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM",
                      "must differ from USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM");
  }

  // PostgreSQL.
  c.postgres.replica_dsns = r.list("USERSERVICE_POSTGRES_REPLICA_DSNS");
  for (std::size_t i = 0; i < c.postgres.replica_dsns.size(); ++i) {
    check_dsn("USERSERVICE_POSTGRES_REPLICA_DSNS entry " + std::to_string(i + 1),
              c.postgres.replica_dsns[i]);
  }
  r.duration("USERSERVICE_POSTGRES_OPERATION_TIMEOUT", c.postgres.operation_timeout);
  if (auto v = r.raw("USERSERVICE_POSTGRES_POOLING"); v && !trim(*v).empty()) {
    const std::string mode(trim(*v));
    if (mode == "session") {
      c.postgres.pooling = Pooling::session;
    } else if (mode == "transaction") {
      c.postgres.pooling = Pooling::transaction;
    } else {
      throw ConfigError("USERSERVICE_POSTGRES_POOLING",
                        "must be session or transaction, got " + quote_text(mode));
    }
  }
  r.string("USERSERVICE_POSTGRES_SESSION_DSN", c.postgres.session_dsn);
  if (!c.postgres.session_dsn.empty()) {
    check_dsn("USERSERVICE_POSTGRES_SESSION_DSN", c.postgres.session_dsn);
  } else if (c.postgres.pooling == Pooling::transaction) {
    // Session advisory locks (migrations, the relay's leadership) mean nothing through a
    // pooler that changes server sessions between transactions.
    throw ConfigError("USERSERVICE_POSTGRES_SESSION_DSN",
                      "is required with USERSERVICE_POSTGRES_POOLING=transaction: a DSN that "
                      "reaches PostgreSQL directly or through a session-mode pooler, for "
                      "migrations and the outbox relay's advisory locks");
  }
  if (auto v = r.raw("USERSERVICE_POSTGRES_REPLICA_READS"); v && !trim(*v).empty()) {
    c.postgres.replica_reads = {false, false, false};
    const auto items = r.list("USERSERVICE_POSTGRES_REPLICA_READS");
    for (const auto& item : items) {
      if (item == "listing") {
        c.postgres.replica_reads.listing = true;
      } else if (item == "lookups") {
        c.postgres.replica_reads.lookups = true;
      } else if (item == "history") {
        c.postgres.replica_reads.history = true;
      } else if (item != "none" || items.size() > 1) {
        throw ConfigError("USERSERVICE_POSTGRES_REPLICA_READS",
                          "must be none or a comma-separated list of listing, lookups, "
                          "history, got " +
                              quote_text(item));
      }
    }
  }
  r.duration("USERSERVICE_POSTGRES_REPLICA_MAX_LAG", c.postgres.replica_max_lag, 1h);
  if (c.postgres.replica_max_lag < 100ms) {
    throw ConfigError(
        "USERSERVICE_POSTGRES_REPLICA_MAX_LAG",
        "must be between 100ms and 1h, got " + format_go_duration(c.postgres.replica_max_lag));
  }
  r.integer("USERSERVICE_POSTGRES_MAX_OPEN_CONNS", c.postgres.max_open_conns, 1, 10000);
  c.postgres.max_idle_conns = c.postgres.max_open_conns;
  r.integer("USERSERVICE_POSTGRES_MAX_IDLE_CONNS", c.postgres.max_idle_conns, 0, 10000);
  if (c.postgres.max_idle_conns > c.postgres.max_open_conns) {
    c.postgres.max_idle_conns = c.postgres.max_open_conns;
  }
  r.duration("USERSERVICE_POSTGRES_CONN_MAX_LIFETIME", c.postgres.conn_max_lifetime, 720h);
  r.duration("USERSERVICE_POSTGRES_CONN_MAX_IDLE_TIME", c.postgres.conn_max_idle_time, 720h,
             /*allow_zero=*/true);
  r.integer("USERSERVICE_POSTGRES_MAX_BATCH", c.postgres.max_batch, 1, 1000);
  r.boolean("USERSERVICE_POSTGRES_COALESCE_READS", c.postgres.coalesce_reads);

  r.duration("USERSERVICE_EXPIRY_SWEEP_INTERVAL", c.expiry_sweep_interval);
  r.duration("USERSERVICE_OUTBOX_LEADER_TIMEOUT", c.outbox_leader_timeout, 10min);
  if (c.outbox_leader_timeout < 3s || c.outbox_leader_timeout > 10min) {
    throw ConfigError(
        "USERSERVICE_OUTBOX_LEADER_TIMEOUT",
        "must be between 3s and 10m, got " + format_go_duration(c.outbox_leader_timeout));
  }
  // The relay talks to PostgreSQL at least every quarter of the leader timeout; a Redis call
  // in between must fit, or a healthy leader would look frozen.
  if (c.redis.wait_timeout > c.outbox_leader_timeout / 4) {
    throw ConfigError("USERSERVICE_REDIS_WAIT_TIMEOUT",
                      "must be at most a quarter of USERSERVICE_OUTBOX_LEADER_TIMEOUT (" +
                          format_go_duration(c.outbox_leader_timeout / 4) + ")");
  }
  if (c.redis.operation_timeout > c.outbox_leader_timeout / 4) {
    throw ConfigError("USERSERVICE_REDIS_OPERATION_TIMEOUT",
                      "must be at most a quarter of USERSERVICE_OUTBOX_LEADER_TIMEOUT (" +
                          format_go_duration(c.outbox_leader_timeout / 4) + ")");
  }
  r.duration("USERSERVICE_IDEMPOTENCY_KEY_TTL", c.idempotency_key_ttl, 720h);
  if (c.idempotency_key_ttl < 24h || c.idempotency_key_ttl > 720h) {
    throw ConfigError(
        "USERSERVICE_IDEMPOTENCY_KEY_TTL",
        "must be between 24h and 720h, got " + format_go_duration(c.idempotency_key_ttl));
  }

  // Telemetry (OpenTelemetry environment variables).
  r.string("OTEL_SERVICE_NAME", c.telemetry.service_name);
  c.telemetry.traces_exporter =
      parse_exporter("OTEL_TRACES_EXPORTER", r.raw("OTEL_TRACES_EXPORTER"));
  c.telemetry.metrics_exporter =
      parse_exporter("OTEL_METRICS_EXPORTER", r.raw("OTEL_METRICS_EXPORTER"));
  auto generic =
      parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", r.raw("OTEL_EXPORTER_OTLP_PROTOCOL"));
  auto traces = parse_protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                               r.raw("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"));
  auto metrics = parse_protocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                                r.raw("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"));
  c.telemetry.traces_protocol = traces.value_or(generic.value_or(OtlpProtocol::http_protobuf));
  c.telemetry.metrics_protocol = metrics.value_or(generic.value_or(OtlpProtocol::http_protobuf));
  c.telemetry.traces_endpoint = signal_endpoint(r, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces");
  c.telemetry.metrics_endpoint =
      signal_endpoint(r, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics");
  check_endpoint(r.raw("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                                                             : "OTEL_EXPORTER_OTLP_ENDPOINT",
                 c.telemetry.traces_endpoint);
  check_endpoint(r.raw("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
                     ? "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
                     : "OTEL_EXPORTER_OTLP_ENDPOINT",
                 c.telemetry.metrics_endpoint);
  r.boolean("USERSERVICE_OTEL_STDOUT_TRACES_ENABLED", c.telemetry.stdout_traces);
  r.boolean("USERSERVICE_OTEL_STDOUT_METRICS_ENABLED", c.telemetry.stdout_metrics);

  auto is_set = [&](std::string_view name) {
    auto v = r.raw(name);
    return v && !trim(*v).empty();
  };
  // An endpoint that will actually be used must be one the exporter can reach (no TLS here).
  auto check_exported_endpoint = [&](config::Exporter exporter, std::string_view specific_var,
                                     const std::string& url) {
    if (exporter != Exporter::otlp) return;
    std::string why;
    if (!parse_http_url(url, &why)) {
      const std::string_view var =
          is_set(specific_var) ? specific_var : "OTEL_EXPORTER_OTLP_ENDPOINT";
      throw ConfigError(std::string(var), why);
    }
  };
  check_exported_endpoint(c.telemetry.traces_exporter, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                          c.telemetry.traces_endpoint);
  check_exported_endpoint(c.telemetry.metrics_exporter, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                          c.telemetry.metrics_endpoint);

  auto generic_headers = key_values(r, "OTEL_EXPORTER_OTLP_HEADERS", true);
  c.telemetry.traces_headers =
      merge_headers(generic_headers, key_values(r, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", true));
  c.telemetry.metrics_headers =
      merge_headers(generic_headers, key_values(r, "OTEL_EXPORTER_OTLP_METRICS_HEADERS", true));

  Duration otlp_timeout = 10s;
  milliseconds(r, "OTEL_EXPORTER_OTLP_TIMEOUT", otlp_timeout);
  c.telemetry.traces_timeout = otlp_timeout;
  c.telemetry.metrics_timeout = otlp_timeout;
  milliseconds(r, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", c.telemetry.traces_timeout);
  milliseconds(r, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", c.telemetry.metrics_timeout);

  c.telemetry.resource_attributes = key_values(r, "OTEL_RESOURCE_ATTRIBUTES", false);
  if (!is_set("OTEL_SERVICE_NAME")) {
    for (const auto& [k, value] : c.telemetry.resource_attributes) {
      if (k == "service.name" && !value.empty()) c.telemetry.service_name = value;
    }
  }

  milliseconds(r, "OTEL_BSP_SCHEDULE_DELAY", c.telemetry.bsp_schedule_delay);
  milliseconds(r, "OTEL_BSP_EXPORT_TIMEOUT", c.telemetry.bsp_export_timeout);
  c.telemetry.bsp_max_queue_size =
      positive_count(r, "OTEL_BSP_MAX_QUEUE_SIZE", c.telemetry.bsp_max_queue_size);
  c.telemetry.bsp_max_export_batch_size =
      positive_count(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", c.telemetry.bsp_max_export_batch_size);
  if (c.telemetry.bsp_max_export_batch_size > c.telemetry.bsp_max_queue_size) {
    if (is_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) {
      throw ConfigError("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                        "must not exceed OTEL_BSP_MAX_QUEUE_SIZE (" +
                            std::to_string(c.telemetry.bsp_max_queue_size) + ")");
    }
    // Only the queue was made smaller: the default batch size follows it.
    c.telemetry.bsp_max_export_batch_size = c.telemetry.bsp_max_queue_size;
  }
  milliseconds(r, "OTEL_METRIC_EXPORT_INTERVAL", c.telemetry.metric_export_interval);
  milliseconds(r, "OTEL_METRIC_EXPORT_TIMEOUT", c.telemetry.metric_export_timeout);

  return c;
}

}  // namespace userservice::config
