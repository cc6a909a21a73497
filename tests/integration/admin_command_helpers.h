#pragma once
// Helpers of the admin command tests (admin commands on entitlements, sanctions and limits,
// history, expiry). Black-box: the real binary over HTTP; PostgreSQL is read only where the
// contract is about what was stored (history tables, current tables) and events are read through
// one helper that looks at both the outbox and the Redis streams (the relay publishes rows and
// deletes them from the outbox).
#include <chrono>
#include <set>
#include <thread>

#include "domain/time.h"
#include "integration/account_helpers.h"

namespace userservice::testing::cmd {

using namespace std::chrono_literals;
using acct::kApi;

// ---------------------------------------------------------------------------------------------
// Service with stream keys of its own

struct Streams {
  std::string domain, lifecycle;
};

inline Streams unique_streams() {
  static std::atomic<int> n{0};
  std::string base = "cmdtest:" + std::to_string(getpid()) + ":" + std::to_string(++n);
  return {base + ":domain", base + ":lifecycle"};
}

struct Service {
  RunningService s;
  Streams streams;
  const RunningService* operator->() const { return &s; }
};

// `sweep` is USERSERVICE_EXPIRY_SWEEP_INTERVAL: "1h" keeps the sweeper out of the way (it
// runs once at start, before the test has written anything).
inline Service start(const std::string& sweep = "1h", std::map<std::string, std::string> extra = {},
                     const std::string& dsn = "", const Streams* streams = nullptr) {
  Service svc;
  svc.streams = streams ? *streams : unique_streams();
  extra["USERSERVICE_EXPIRY_SWEEP_INTERVAL"] = sweep;
  extra["USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM"] = svc.streams.domain;
  extra["USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM"] = svc.streams.lifecycle;
  svc.s = start_service(extra, dsn);
  return svc;
}

// ---------------------------------------------------------------------------------------------
// Time

inline std::string ts(domain::TimePoint tp) { return domain::format_rfc3339_millis(tp); }
inline std::string from_now(std::chrono::milliseconds d) {
  return ts(std::chrono::system_clock::now() + d);
}
inline std::optional<domain::TimePoint> parse_ts(const std::string& s) {
  return domain::parse_rfc3339(s);
}

// ---------------------------------------------------------------------------------------------
// Commands

inline boost::json::object actor(std::string type = "admin", std::string id = "admin-7") {
  return {{"type", type}, {"id", id}};
}

inline boost::json::object with_meta(boost::json::object body, std::string reason = "support_case",
                                     boost::json::object who = actor()) {
  body["reason_code"] = reason;
  body["actor"] = who;
  return body;
}

inline HttpResponse command(const RunningService& s, const std::string& user_id,
                            const std::string& path, const boost::json::value& body,
                            std::map<std::string, std::string> headers = {}) {
  return s.call("POST", kApi + "/admin/users/" + user_id + path, acct::json_str(body),
                std::move(headers));
}

inline HttpResponse grant(const RunningService& s, const std::string& user_id,
                          const std::string& plan, std::optional<std::string> ends_at = {},
                          std::optional<std::string> starts_at = {},
                          const std::string& source = "billing") {
  boost::json::object b{{"plan_code", plan}, {"source", source}};
  if (ends_at) b["ends_at"] = *ends_at;
  if (starts_at) b["starts_at"] = *starts_at;
  return command(s, user_id, "/entitlements/grant", with_meta(b));
}
inline HttpResponse extend(const RunningService& s, const std::string& user_id,
                           const std::string& ends_at, const std::string& source = "billing") {
  return command(s, user_id, "/entitlements/extend",
                 with_meta({{"ends_at", ends_at}, {"source", source}}));
}
inline HttpResponse revoke(const RunningService& s, const std::string& user_id) {
  return command(s, user_id, "/entitlements/revoke", with_meta({}));
}
inline HttpResponse apply(const RunningService& s, const std::string& user_id,
                          const std::string& code, std::optional<std::string> expires_at = {},
                          const std::string& reason = "support_case") {
  boost::json::object b{{"sanction_code", code}};
  if (expires_at) b["expires_at"] = *expires_at;
  return command(s, user_id, "/sanctions/apply", with_meta(b, reason));
}
inline HttpResponse remove_sanction(const RunningService& s, const std::string& user_id,
                                    const std::string& code) {
  return command(s, user_id, "/sanctions/remove", with_meta({{"sanction_code", code}}));
}
inline HttpResponse set_limit(const RunningService& s, const std::string& user_id,
                              const std::string& code, std::int64_t value,
                              std::optional<std::string> expires_at = {}) {
  boost::json::object b{{"limit_code", code}, {"value", value}};
  if (expires_at) b["expires_at"] = *expires_at;
  return command(s, user_id, "/limits/set", with_meta(b));
}
inline HttpResponse remove_limit(const RunningService& s, const std::string& user_id,
                                 const std::string& code) {
  return command(s, user_id, "/limits/remove", with_meta({{"limit_code", code}}));
}

inline HttpResponse history(const RunningService& s, const std::string& user_id,
                            const std::string& kind, const std::string& query = "") {
  return s.call("GET", kApi + "/admin/users/" + user_id + "/" + kind + "/history" +
                           (query.empty() ? "" : "?" + query));
}

// Every item of a history, walking all pages with `page_size`.
inline std::vector<boost::json::value> all_history(const RunningService& s,
                                                   const std::string& user_id,
                                                   const std::string& kind, int page_size = 200) {
  std::vector<boost::json::value> out;
  std::string token;
  for (int guard = 0; guard < 1000; ++guard) {
    std::string q = "page_size=" + std::to_string(page_size);
    if (!token.empty()) q += "&page_token=" + token;
    auto r = history(s, user_id, kind, q);
    auto v = acct::expect_json(r, 200);
    if (r.status != 200) break;
    for (const auto& item : acct::field(v, "items").as_array()) out.push_back(item);
    const auto& next = acct::field(v, "next_page_token");
    if (next.is_null()) break;
    token = std::string(next.as_string());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Database

inline long count(const RunningService& s, const std::string& query) {
  return std::stol(s.sql(query).at(0).at(0));
}

// History record kinds of one user, oldest first ("apply", "remove", ...).
inline std::vector<std::string> record_kinds(const RunningService& s, const std::string& table,
                                             const std::string& user_id) {
  std::vector<std::string> out;
  for (auto& row : s.sql("SELECT kind FROM \"user\"." + table + " WHERE user_id = " +
                         acct::sql_literal(user_id) + " ORDER BY record_id")) {
    out.push_back(row.at(0));
  }
  return out;
}

// Rows the commands and the sweeper write; bad input must change none of them. Events are
// counted by the outbox sequence: the relay deletes published rows, the sequence stays.
inline std::string write_fingerprint(const RunningService& s) {
  auto rows = s.sql(R"(SELECT (SELECT count(*) FROM "user".entitlement_records) || '/' ||
                              (SELECT count(*) FROM "user".sanction_records) || '/' ||
                              (SELECT count(*) FROM "user".limit_records) || '/' ||
                              (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY user_id), ''))
                                 FROM "user".entitlement_snapshots e) || '/' ||
                              (SELECT count(*) FROM "user".sanction_active) || '/' ||
                              (SELECT count(*) FROM "user".limit_active) || '/' ||
                              coalesce(pg_sequence_last_value(pg_get_serial_sequence(
                                  '"user".event_outbox', 'seq')::regclass), 0))");
  return rows.at(0).at(0);
}

// ---------------------------------------------------------------------------------------------
// Events: outbox rows not yet relayed plus stream entries already relayed, de-duplicated by
// event_id. The outbox is read first: a row relayed (and deleted) in between then shows up in
// the streams, never in neither.

struct Event {
  std::string event_id;
  std::string event_type;
  std::string stream;  // "domain" | "lifecycle"
  boost::json::value payload;
  std::string trace_id;  // "" when none
};

inline void add_event(std::vector<Event>& out, std::set<std::string>& seen, Event e) {
  if (seen.insert(e.event_id).second) out.push_back(std::move(e));
}

// All events of `user_id` ("" = every user).
inline std::vector<Event> events(const Service& svc, const std::string& user_id = "") {
  std::vector<Event> out;
  std::set<std::string> seen;
  std::string where = user_id.empty() ? "" : " WHERE user_id = " + acct::sql_literal(user_id);
  auto rows = svc->sql(
      "SELECT event_id, event_type, stream, payload, coalesce(substr(traceparent, 4, 32), '') "
      "FROM \"user\".event_outbox" +
      where + " ORDER BY seq");
  std::vector<Event> outbox;
  for (auto& row : rows) {
    Event e{row.at(0), row.at(1), row.at(2), nullptr, row.at(4)};
    boost::system::error_code ec;
    e.payload = boost::json::parse(row.at(3), ec);
    if (ec) ADD_FAILURE() << "event payload is not JSON: " << row.at(3);
    outbox.push_back(std::move(e));
  }
  for (const auto& [key, kind] : {std::pair{svc.streams.domain, std::string("domain")},
                                  std::pair{svc.streams.lifecycle, std::string("lifecycle")}}) {
    RedisReply r = shared_redis().command_reply({"XRANGE", key, "-", "+"});
    for (const RedisReply& item : r.elements) {
      if (item.elements.size() != 2) continue;
      std::map<std::string, std::string> f;
      const auto& kv = item.elements[1].elements;
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
      if (!user_id.empty() && f["user_id"] != user_id) continue;
      Event e{f["event_id"], f["event_type"], kind, nullptr, f["trace_id"]};
      boost::system::error_code ec;
      e.payload = boost::json::parse(f["payload"], ec);
      if (ec) ADD_FAILURE() << "event payload is not JSON: " << f["payload"];
      add_event(out, seen, std::move(e));
    }
  }
  // Unpublished rows come after published ones (the relay publishes in seq order).
  for (auto& e : outbox) add_event(out, seen, std::move(e));
  return out;
}

inline std::vector<Event> events_of(const Service& svc, const std::string& user_id,
                                    std::string_view type) {
  std::vector<Event> out;
  for (auto& e : events(svc, user_id)) {
    if (e.event_type == type) out.push_back(std::move(e));
  }
  return out;
}

inline std::size_t count_events(const std::vector<Event>& all, std::string_view type,
                                std::string_view kind = "") {
  std::size_t n = 0;
  for (const auto& e : all) {
    if (e.event_type == type && (kind.empty() || acct::str(e.payload, "kind") == kind)) ++n;
  }
  return n;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace userservice::testing::cmd
