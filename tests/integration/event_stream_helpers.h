#pragma once
// The Redis side of the event tests: stream keys of their own per test, reading entries back,
// and the checks that say "every event once, in per-user commit order" (api.md §10).
#include <unistd.h>

#include <atomic>
#include <regex>
#include <set>

#include "integration/account_helpers.h"

namespace userservice::testing::events {

using namespace std::chrono_literals;
using namespace userservice::testing::acct;
namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Streams

struct Streams {
  std::string domain, lifecycle;
};

// Stream keys of their own per service group, so tests sharing one Redis never see each
// other's entries.
inline Streams unique_streams() {
  static std::atomic<int> n{0};
  std::string base = "relaytest:" + std::to_string(getpid()) + ":" + std::to_string(++n);
  return {base + ":domain", base + ":lifecycle"};
}

inline std::map<std::string, std::string> stream_env(
    const Streams& s, std::map<std::string, std::string> extra = {}) {
  extra["USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM"] = s.domain;
  extra["USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM"] = s.lifecycle;
  return extra;
}

// Points a service at a Redis of the test's own (one it can stop and start).
inline std::map<std::string, std::string> redis_env(const RedisServer& redis,
                                                    std::map<std::string, std::string> extra) {
  extra["USERSERVICE_REDIS_MASTER_ADDR"] = redis.addr();
  extra["USERSERVICE_REDIS_PASSWORD"] = redis.password();
  return extra;
}

struct Entry {
  std::string id;      // stream entry id "<ms>-<n>"
  std::string stream;  // "domain" | "lifecycle"
  std::map<std::string, std::string> fields;
  json::value payload;
  std::string field(const std::string& k) const {
    auto it = fields.find(k);
    return it == fields.end() ? "<missing>" : it->second;
  }
};

inline std::vector<Entry> read_stream(RedisServer& redis, const std::string& key,
                                      const std::string& kind) {
  std::vector<Entry> out;
  RedisReply r = redis.command_reply({"XRANGE", key, "-", "+"});
  for (const RedisReply& item : r.elements) {
    if (item.elements.size() != 2) {
      ADD_FAILURE() << "unexpected XRANGE item shape";
      continue;
    }
    Entry e;
    e.id = item.elements[0].str;
    e.stream = kind;
    const auto& kv = item.elements[1].elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
      EXPECT_FALSE(e.fields.count(kv[i].str)) << "field " << kv[i].str << " twice in " << e.id;
      e.fields[kv[i].str] = kv[i + 1].str;
    }
    boost::system::error_code ec;
    e.payload = json::parse(e.field("payload"), ec);
    if (ec) ADD_FAILURE() << "payload is not JSON: " << e.field("payload");
    out.push_back(std::move(e));
  }
  return out;
}

// One stream's entries of one user, in stream order.
inline std::vector<Entry> user_entries(RedisServer& redis, const std::string& key,
                                       const std::string& kind, const std::string& user_id) {
  std::vector<Entry> out;
  for (auto& e : read_stream(redis, key, kind)) {
    if (e.field("user_id") == user_id) out.push_back(std::move(e));
  }
  return out;
}

// What consumers do: keep the first occurrence of every event_id.
inline std::vector<Entry> dedup(std::vector<Entry> entries) {
  std::set<std::string> seen;
  std::vector<Entry> out;
  for (auto& e : entries) {
    if (seen.insert(e.field("event_id")).second) out.push_back(std::move(e));
  }
  return out;
}

inline std::size_t duplicates(const std::vector<Entry>& entries) {
  std::set<std::string> seen;
  std::size_t n = 0;
  for (const auto& e : entries) n += !seen.insert(e.field("event_id")).second;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Service and outbox

inline std::string tail_of(const std::string& text) { return detail::tail_lines(text, 30); }

inline long outbox_rows(const RunningService& s) {
  return std::stol(s.sql(R"(SELECT count(*) FROM "user".event_outbox)").at(0).at(0));
}

// Every committed event left the outbox (published and deleted).
inline void expect_outbox_drains(const RunningService& s, std::chrono::milliseconds timeout = 15s) {
  EXPECT_TRUE(eventually([&] { return outbox_rows(s) == 0; }, timeout))
      << outbox_rows(s) << " rows still in the outbox\n"
      << tail_of(s.process->stdout_text());
}

inline std::string initial_user_name(const RunningService& s, const std::string& user_id) {
  return str(account_of(s, user_id), "user_name");
}

// A user name unique within the test process: ^[A-Za-z][A-Za-z0-9_-]{2,23}$.
inline std::string fresh_name() {
  static std::atomic<int> n{0};
  return "Rl" + std::to_string(getpid() % 100000) + "_" + std::to_string(++n);
}

inline HttpResponse rename_on(HttpClient& c, const std::string& user_id, const std::string& name) {
  return c.request("PATCH", kApi + "/users/" + user_id + "/profile",
                   json_str({{"user_name", name}}));
}

// The user's profile.changed events, in stream order, form one chain: each previous_user_name
// is the user_name of the event before (the first one's is the account's name before the
// renames). That holds exactly when the stream order is the commit order, and `expected`, when
// given, pins the names themselves.
inline void expect_rename_chain(const std::vector<Entry>& entries, std::string previous,
                                const std::vector<std::string>& expected = {}) {
  std::vector<std::string> got;
  for (const auto& e : entries) {
    EXPECT_EQ(e.field("event_type"), "user.profile.changed");
    EXPECT_EQ(str(e.payload, "previous_user_name"), previous) << "out of order at " << e.id;
    previous = str(e.payload, "user_name");
    got.push_back(previous);
  }
  if (!expected.empty()) {
    EXPECT_EQ(got, expected);
  }
}

inline bool is_rfc3339_ms(const std::string& s) {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  return std::regex_match(s, re);
}

// Every entry carries exactly the fields of api.md §10 (trace_id included: the service always
// has a trace id, from traceparent or minted).
inline void expect_entry_shape(const Entry& e) {
  SCOPED_TRACE(e.id);
  std::set<std::string> keys;
  for (const auto& [k, v] : e.fields) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"event_id", "event_type", "user_id", "occurred_at",
                                         "payload", "trace_id"}));
  EXPECT_TRUE(std::regex_match(e.field("event_id"), std::regex("^evt-[0-9a-z]{26}$")))
      << e.field("event_id");
  EXPECT_TRUE(is_rfc3339_ms(e.field("occurred_at"))) << e.field("occurred_at");
  EXPECT_TRUE(std::regex_match(e.field("trace_id"), std::regex("^[0-9a-f]{32}$")))
      << e.field("trace_id");
  EXPECT_TRUE(e.payload.is_object());
  EXPECT_EQ(str(e.payload, "user_id"), e.field("user_id"));
}

inline std::string metrics_text(const RunningService& s) {
  return http(s.admin_port, "GET", "/metrics").body;
}

// The value of an unlabelled (or fully written) sample line "name value"; -1 when absent.
inline double metric_value(const std::string& text, const std::string& sample) {
  std::size_t at = 0;
  while ((at = text.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + sample.size() + 1));
    at += sample.size();
  }
  return -1;
}

}  // namespace userservice::testing::events
