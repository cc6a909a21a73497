#pragma once
// Shared helpers of the black-box account-route tests (docs/api.md §2–§6, §8). They talk
// to the real binary over HTTP and look at PostgreSQL only where the contract is about what
// was written (events, row counts) or where no route writes the state a test needs
// (sanctions and limits are seeded with plain SQL).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/service_fixture.h"

namespace userservice::testing::acct {

inline const std::string kApi = "/api/v1/internal";
inline const std::string kJsonType = "application/json; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Unique test data

inline int next_counter() {
  static std::atomic<int> counter{0};
  return ++counter;
}

// "<test name>.<n>.<tag>@accounts.example.com", lower case, local part well under 64 chars.
inline std::string unique_email(std::string_view tag = "") {
  std::string name = "suite";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name = info->name();
  }
  std::string local;
  for (char c : name.substr(0, 30)) {
    local += std::isalnum(static_cast<unsigned char>(c))
                 ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                 : '_';
  }
  local += "." + std::to_string(getpid() % 100000) + "." + std::to_string(next_counter());
  if (!tag.empty()) local += "." + std::string(tag.substr(0, 16));
  return local + "@accounts.example.com";
}

// A valid, never-reserved user name ("<Prefix>_<n>", at most 24 chars).
inline std::string unique_user_name(std::string_view prefix = "Pilot") {
  std::string p(prefix.substr(0, 12));
  return p + "_" + std::to_string(getpid() % 1000) + "_" + std::to_string(next_counter());
}

inline std::string random_hex(std::size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += digits[rng() % 16];
  if (out.find_first_not_of('0') == std::string::npos) out[0] = '1';
  return out;
}

// A W3C traceparent with a fresh trace id; the trace id is returned through `trace_id`.
inline std::map<std::string, std::string> trace_headers(std::string& trace_id) {
  trace_id = random_hex(32);
  return {{"traceparent", "00-" + trace_id + "-" + random_hex(16) + "-01"}};
}

// Percent-encodes every byte outside RFC 3986 "unreserved" (so '@' becomes %40).
inline std::string pct(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Percent-encodes every byte, unreserved ones included.
inline std::string pct_all(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

inline std::string sql_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

inline std::string json_str(const boost::json::value& v) { return boost::json::serialize(v); }

// ---------------------------------------------------------------------------------------------
// Shapes

inline bool is_timestamp(const boost::json::value& v) {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  return v.is_string() && std::regex_match(std::string(v.as_string()), re);
}
inline bool is_minted_user_id(std::string_view id) {
  static const std::regex re("^user-[0-9a-hjkmnp-tv-z]{26}$");
  return std::regex_match(std::string(id), re);
}
inline bool is_minted_user_name(std::string_view name) {
  static const std::regex re("^player-[a-z0-9]{6}$");
  return std::regex_match(std::string(name), re);
}

// The body as JSON; a test failure (and null) when it is not JSON.
inline boost::json::value body_json(const HttpResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec) {
    ADD_FAILURE() << "response body is not JSON (status " << r.status << "): " << r.body;
    return nullptr;
  }
  return v;
}

// Asserts status and JSON content type and returns the parsed body (null on failure).
inline boost::json::value expect_json(const HttpResponse& r, unsigned status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), kJsonType) << r.body;
  return body_json(r);
}

inline std::string error_code_of(const HttpResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) return "<no error body>";
  const auto& e = v.at("error");
  if (!e.is_object() || !e.as_object().contains("code") || !e.at("code").is_string()) {
    return "<no error code>";
  }
  return std::string(e.at("code").as_string());
}

// Status, error code and the {"error":{"code","message"}} shape (messages are not asserted).
inline void expect_error(const HttpResponse& r, unsigned status, std::string_view code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), kJsonType) << r.body;
  EXPECT_EQ(error_code_of(r), code) << r.body;
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object() && v.as_object().contains("error") && v.at("error").is_object() &&
      v.at("error").as_object().contains("message")) {
    EXPECT_TRUE(v.at("error").at("message").is_string()) << r.body;
  } else {
    ADD_FAILURE() << "no error.message: " << r.body;
  }
}

inline const boost::json::object& obj(const boost::json::value& v) {
  static const boost::json::object empty;
  return v.is_object() ? v.as_object() : empty;
}
// v[key], or a null value when v is not an object or has no such key.
inline const boost::json::value& field(const boost::json::value& v, std::string_view key) {
  static const boost::json::value null_value;
  if (!v.is_object()) return null_value;
  auto it = v.as_object().find(key);
  return it == v.as_object().end() ? null_value : it->value();
}
inline bool has(const boost::json::value& v, std::string_view key) {
  return v.is_object() && v.as_object().contains(key);
}
inline std::string str(const boost::json::value& v, std::string_view key) {
  const auto& o = obj(v);
  auto it = o.find(key);
  if (it == o.end()) return "<missing>";
  if (it->value().is_null()) return "<null>";
  if (!it->value().is_string()) return "<not a string: " + json_str(it->value()) + ">";
  return std::string(it->value().as_string());
}

// The account view of docs/api.md §4: shapes and types, not values.
inline void expect_account_view_shape(const boost::json::value& v) {
  SCOPED_TRACE(json_str(v));
  const auto& a = field(v, "account");
  ASSERT_TRUE(a.is_object());
  for (const char* k : {"user_id", "email", "user_name", "preferred_language", "time_zone"}) {
    EXPECT_TRUE(field(a, k).is_string()) << k;
  }
  EXPECT_TRUE(has(a, "declared_country") &&
              (field(a, "declared_country").is_null() || field(a, "declared_country").is_string()));
  EXPECT_TRUE(is_timestamp(field(a, "created_at")));
  EXPECT_TRUE(is_timestamp(field(a, "updated_at")));
  const auto& e = field(v, "entitlement");
  ASSERT_TRUE(e.is_object());
  EXPECT_TRUE(field(e, "plan_code").is_string());
  EXPECT_TRUE(field(e, "is_paid").is_bool());
  EXPECT_TRUE(is_timestamp(field(e, "starts_at")));
  EXPECT_TRUE(has(e, "ends_at") &&
              (field(e, "ends_at").is_null() || is_timestamp(field(e, "ends_at"))));
  EXPECT_TRUE(field(v, "active_sanctions").is_array());
  EXPECT_TRUE(field(v, "active_limits").is_array());
  const auto& l = field(v, "effective_limits");
  ASSERT_TRUE(l.is_object());
  for (const char* k : {"max_owned_private_games", "max_pending_public_applications",
                        "max_active_game_memberships"}) {
    EXPECT_TRUE(field(l, k).is_number()) << k;
  }
}

inline boost::json::value free_limits() {
  return boost::json::object{{"max_owned_private_games", 1},
                             {"max_pending_public_applications", 3},
                             {"max_active_game_memberships", 3}};
}

// Compares numbers by value whatever their JSON representation (int64/uint64).
inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) {
    boost::system::error_code ec1, ec2;
    auto x = a.to_number<double>(ec1);
    auto y = b.to_number<double>(ec2);
    return !ec1 && !ec2 && x == y;
  }
  if (a.is_object() && b.is_object()) {
    const auto& oa = a.as_object();
    const auto& ob = b.as_object();
    if (oa.size() != ob.size()) return false;
    for (const auto& kv : oa) {
      auto it = ob.find(kv.key());
      if (it == ob.end() || !same_json(kv.value(), it->value())) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const auto& xa = a.as_array();
    const auto& xb = b.as_array();
    if (xa.size() != xb.size()) return false;
    for (std::size_t i = 0; i < xa.size(); ++i) {
      if (!same_json(xa[i], xb[i])) return false;
    }
    return true;
  }
  return a == b;
}

// For a fixture's TearDown: a crashed service fails the test that killed it, with its output.
inline void expect_alive(RunningService& s) {
  if (!s.process) return;
  // A crash shows up as a failed request first; give the process a moment to finish dying.
  if (::testing::Test::HasFailure()) s.process->wait_exit(std::chrono::milliseconds(1000));
  if (s.process->running()) return;
  auto tail = [](const std::string& text) {
    return text.size() > 6000 ? text.substr(text.size() - 6000) : text;
  };
  ADD_FAILURE() << "the service exited (code " << s.process->exit_code().value_or(-1)
                << ")\nstderr tail:\n"
                << tail(s.process->stderr_text()) << "\nstdout tail:\n"
                << tail(s.process->stdout_text());
}

// ---------------------------------------------------------------------------------------------
// Requests

inline HttpResponse post_json(const RunningService& s, const std::string& path,
                              const boost::json::value& body,
                              std::map<std::string, std::string> headers = {}) {
  return s.call("POST", kApi + path, json_str(body), std::move(headers));
}

inline HttpResponse ensure(const RunningService& s, const std::string& email,
                           std::map<std::string, std::string> headers = {}) {
  return post_json(s, "/users/ensure-by-email", {{"email", email}}, std::move(headers));
}

inline HttpResponse resolve(const RunningService& s, const std::string& email) {
  return post_json(s, "/user-resolutions/by-email", {{"email", email}});
}

inline boost::json::object actor(std::string type = "admin", std::string id = "admin-tests") {
  return {{"type", type}, {"id", id}};
}

inline HttpResponse soft_delete(const RunningService& s, const std::string& user_id,
                                const std::string& reason = "test_cleanup",
                                std::map<std::string, std::string> headers = {}) {
  return post_json(s, "/admin/users/" + user_id + "/delete",
                   {{"reason_code", reason}, {"actor", actor()}}, std::move(headers));
}

inline HttpResponse block_email(const RunningService& s, const std::string& email,
                                const std::string& reason = "abuse_report") {
  return s.call("PUT", kApi + "/admin/blocked-emails/" + pct(email),
                json_str({{"reason_code", reason}, {"actor", actor()}}));
}

inline HttpResponse get_account(const RunningService& s, const std::string& user_id) {
  return s.call("GET", kApi + "/users/" + user_id + "/account");
}

struct Account {
  std::string user_id;
  std::string email;
};

// A new account through ensure-by-email (201 expected). `registration_context` is added to the
// body when it is not null.
inline Account create_account(const RunningService& s, std::string_view tag = "",
                              const boost::json::value& registration_context = nullptr) {
  Account a;
  a.email = unique_email(tag);
  boost::json::object body{{"email", a.email}};
  if (!registration_context.is_null()) body["registration_context"] = registration_context;
  auto r = post_json(s, "/users/ensure-by-email", body);
  EXPECT_EQ(r.status, 201u) << "ensure-by-email " << a.email << ": " << r.body;
  auto v = body_json(r);
  EXPECT_EQ(str(v, "outcome"), "created") << r.body;
  a.user_id = str(v, "user_id");
  EXPECT_TRUE(is_minted_user_id(a.user_id)) << r.body;
  return a;
}

// The account part of GET users/{id}/account (a failure and null if not 200).
inline boost::json::value account_of(const RunningService& s, const std::string& user_id) {
  auto r = get_account(s, user_id);
  auto v = expect_json(r, 200);
  if (!v.is_object() || !v.as_object().contains("account")) return nullptr;
  return v.at("account");
}

inline HttpResponse rename(const RunningService& s, const std::string& user_id,
                           const std::string& name,
                           std::map<std::string, std::string> headers = {}) {
  return s.call("PATCH", kApi + "/users/" + user_id + "/profile", json_str({{"user_name", name}}),
                std::move(headers));
}

// ---------------------------------------------------------------------------------------------
// Database

// The events written for one user, oldest first, as consumers see them: the relay publishes
// outbox rows to the Redis streams and deletes them, so this waits until the user's outbox
// rows are gone and then reads both streams of the service (its env names them). The ONE
// place that knows where events end up.
struct Event {
  std::string event_type;
  std::string stream;  // "domain" | "lifecycle"
  boost::json::value payload;
  std::string raw_payload;
  std::string trace_id;  // "<null>" when none
};

template <typename Pred>
inline bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(15),
                       std::chrono::microseconds every = std::chrono::milliseconds(10)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(every);
  }
}

// Entries of the two streams are merged by their entry-id milliseconds; within one
// millisecond, user.created comes first and user.deleted last (a user's first and last
// events), otherwise stream order.
inline std::vector<Event> events_for(const RunningService& s, const std::string& user_id) {
  auto env = [&](const std::string& key, const std::string& fallback) {
    auto it = s.process->env().find(key);
    return it == s.process->env().end() ? fallback : it->second;
  };
  const bool drained = eventually(
      [&] {
        return s.sql(R"(SELECT count(*) FROM "user".event_outbox WHERE user_id = )" +
                     sql_literal(user_id))
                   .at(0)
                   .at(0) == "0";
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(drained) << "events of " << user_id << " still unpublished";
  struct Keyed {
    long long ms;
    int rank;
    Event event;
  };
  std::vector<Keyed> all;
  std::set<std::string> seen;
  for (const auto& [key, kind] :
       {std::pair{env("USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", "user:lifecycle_events"),
                  std::string("lifecycle")},
        std::pair{env("USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", "user:domain_events"),
                  std::string("domain")}}) {
    RedisReply r = shared_redis().command_reply({"XRANGE", key, "-", "+"});
    for (const RedisReply& item : r.elements) {
      if (item.elements.size() != 2) continue;
      std::map<std::string, std::string> f;
      const auto& kv = item.elements[1].elements;
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
      if (f["user_id"] != user_id || !seen.insert(f["event_id"]).second) continue;
      Event e;
      e.event_type = f["event_type"];
      e.stream = kind;
      e.raw_payload = f["payload"];
      boost::system::error_code ec;
      e.payload = boost::json::parse(e.raw_payload, ec);
      if (ec) ADD_FAILURE() << "event payload is not JSON: " << e.raw_payload;
      e.trace_id = f.count("trace_id") ? f["trace_id"] : "<null>";
      const std::string& id = item.elements[0].str;
      int rank = e.event_type == "user.created" ? 0 : e.event_type == "user.deleted" ? 2 : 1;
      all.push_back({std::stoll(id.substr(0, id.find('-'))), rank, std::move(e)});
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Keyed& a, const Keyed& b) {
    return a.ms != b.ms ? a.ms < b.ms : a.rank < b.rank;
  });
  std::vector<Event> out;
  for (auto& k : all) out.push_back(std::move(k.event));
  return out;
}

// What "how many events were ever written" is now: the outbox's identity sequence (count(*)
// shrinks as the relay deletes published rows). For write-count helpers.
inline long events_ever_written(const RunningService& s) {
  return std::stol(s.sql(R"(SELECT coalesce(pg_sequence_last_value(
                                pg_get_serial_sequence('"user".event_outbox', 'seq')), 0))")
                       .at(0)
                       .at(0));
}

inline std::vector<Event> events_of_type(const RunningService& s, const std::string& user_id,
                                         std::string_view type) {
  auto all = events_for(s, user_id);
  std::vector<Event> out;
  for (auto& e : all) {
    if (e.event_type == type) out.push_back(std::move(e));
  }
  return out;
}

// Counts that any accepted write changes; bad input must leave them alone. "events" is the
// outbox's identity sequence: every event ever written, published (deleted) or not.
struct WriteCounts {
  std::string accounts, events, blocked_emails, fingerprint;
  bool operator==(const WriteCounts&) const = default;
};
inline std::ostream& operator<<(std::ostream& os, const WriteCounts& c) {
  return os << "{accounts=" << c.accounts << ", events=" << c.events
            << ", blocked_emails=" << c.blocked_emails << ", fingerprint=" << c.fingerprint << "}";
}
// One row of a read-only query on a connection kept open per database: the bad-input matrix
// calls this twice per request, and a fresh connection each time would dominate its run time.
inline std::vector<std::string> cached_query_row(const std::string& dsn, const std::string& q) {
  // Closed at exit, so LeakSanitizer sees no abandoned libpq connections.
  struct Connections {
    std::map<std::string, PGconn*> by_dsn;
    ~Connections() {
      for (auto& [dsn, c] : by_dsn) {
        if (c != nullptr) PQfinish(c);
      }
    }
  };
  static std::mutex mu;
  static Connections cache;
  auto& conns = cache.by_dsn;
  std::lock_guard lock(mu);
  PGconn*& c = conns[dsn];
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    if (c != nullptr) PQfinish(c);
    c = PQconnectdb(dsn.c_str());
  }
  PGresult* res = PQexec(c, q.c_str());
  std::vector<std::string> row;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
    for (int i = 0; i < PQnfields(res); ++i) row.emplace_back(PQgetvalue(res, 0, i));
  } else {
    ADD_FAILURE() << "query failed: " << PQerrorMessage(c);
  }
  PQclear(res);
  return row;
}

inline WriteCounts write_counts(const RunningService& s) {
  // The fingerprint catches in-place updates (a patch that slipped through).
  auto row = cached_query_row(s.dsn, R"(SELECT (SELECT count(*) FROM "user".accounts),
                              coalesce(pg_sequence_last_value(
                                  pg_get_serial_sequence('"user".event_outbox', 'seq')), 0),
                              (SELECT count(*) FROM "user".blocked_emails),
                              (SELECT md5(coalesce(string_agg(a::text, '|' ORDER BY user_id), ''))
                                 FROM "user".accounts a))");
  row.resize(4);
  return {row[0], row[1], row[2], row[3]};
}

inline long count_accounts_with_email(const RunningService& s, const std::string& email) {
  return std::stol(
      s.sql(R"(SELECT count(*) FROM "user".accounts WHERE email=)" + sql_literal(email))
          .at(0)
          .at(0));
}

// Seeds an active sanction row. `expires_at_sql`
// is an SQL expression, e.g. "NULL", "now() + interval '1 hour'", "now() - interval '1 minute'".
inline void seed_sanction(const RunningService& s, const std::string& user_id,
                          const std::string& code, const std::string& expires_at_sql = "NULL",
                          const std::string& reason = "seeded_by_test") {
  s.sql(R"(INSERT INTO "user".sanction_active(user_id, sanction_code, reason_code, actor_type,
                                              actor_id, applied_at, expires_at) VALUES ()" +
        sql_literal(user_id) + "," + sql_literal(code) + "," + sql_literal(reason) +
        ", 'admin', 'admin-tests', now() - interval '1 hour', " + expires_at_sql + ")");
}

inline void seed_limit(const RunningService& s, const std::string& user_id, const std::string& code,
                       int value, const std::string& expires_at_sql = "NULL",
                       const std::string& reason = "seeded_by_test") {
  s.sql(R"(INSERT INTO "user".limit_active(user_id, limit_code, value, reason_code, actor_type,
                                           actor_id, applied_at, expires_at) VALUES ()" +
        sql_literal(user_id) + "," + sql_literal(code) + "," + std::to_string(value) + "," +
        sql_literal(reason) + ", 'admin', 'admin-tests', now() - interval '1 hour', " +
        expires_at_sql + ")");
}

// Holds `user_id`'s account row lock — the lock every admin command and self-service write
// takes first — on a session of its own, as a slow command would: taken before the
// constructor returns, held for `hold`, then `before_commit` (SQL, may be empty) runs and the
// transaction commits. The destructor waits for that.
class AccountRowLock {
 public:
  AccountRowLock(const std::string& dsn, const std::string& user_id, std::chrono::milliseconds hold,
                 std::string before_commit = "") {
    std::promise<void> taken;
    thread_ = std::thread([&taken, dsn, user_id, hold, before_commit = std::move(before_commit)] {
      PGconn* c = PQconnectdb(dsn.c_str());
      PQclear(PQexec(c, "BEGIN"));
      PGresult* r = PQexec(c, (R"(SELECT 1 FROM "user".accounts WHERE user_id = )" +
                               sql_literal(user_id) + " FOR UPDATE")
                                  .c_str());
      EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
      PQclear(r);
      taken.set_value();
      std::this_thread::sleep_for(hold);
      if (!before_commit.empty()) {
        r = PQexec(c, before_commit.c_str());
        EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
        PQclear(r);
      }
      PQclear(PQexec(c, "COMMIT"));
      PQfinish(c);
    });
    taken.get_future().wait();
  }
  ~AccountRowLock() { thread_.join(); }
  AccountRowLock(const AccountRowLock&) = delete;
  AccountRowLock& operator=(const AccountRowLock&) = delete;

 private:
  std::thread thread_;
};

// Moves updated_at an hour back so that "unchanged" and "changed" are both observable.
inline void age_updated_at(const RunningService& s, const std::string& user_id) {
  s.sql(R"(UPDATE "user".accounts SET updated_at = updated_at - interval '1 hour' WHERE user_id=)" +
        sql_literal(user_id));
}

}  // namespace userservice::testing::acct
