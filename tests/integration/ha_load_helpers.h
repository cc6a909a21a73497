#pragma once
// A steady write load for the high-availability tests (ha_failover_test.cpp,
// ha_patroni_test.cpp), and the check that nothing it was told was lost: writers create
// accounts and rename their own without pause; every acknowledged account must exist
// afterwards, and every user's events must be in Redis once and in order, containing every
// acknowledged rename.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/account_helpers.h"
#include "integration/event_stream_helpers.h"

namespace userservice::testing::ha {

using Clock = std::chrono::steady_clock;
using acct::kApi;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// What the writers saw.
struct Ledger {
  std::mutex mu;
  std::vector<std::string> users;                                 // acknowledged creations
  std::map<std::string, std::vector<std::string>> acked_renames;  // user -> names, in order
  std::map<unsigned, int> statuses;
  std::vector<Clock::time_point> acked_at;  // every acknowledged write, in completion order
  double slowest_error_s = 0;
};

// `writers` threads against the service on `port`, from construction until stop().
class WriteLoad {
 public:
  explicit WriteLoad(int port, int writers = 4) {
    for (int t = 0; t < writers; ++t) threads_.emplace_back([this, port] { run(port); });
  }
  ~WriteLoad() { stop(); }
  WriteLoad(const WriteLoad&) = delete;
  WriteLoad& operator=(const WriteLoad&) = delete;

  void stop() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  Ledger& ledger() { return ledger_; }

  // The first write acknowledged at or after `t`; nullopt while there is none.
  std::optional<Clock::time_point> first_ack_after(Clock::time_point t) {
    std::lock_guard lock(ledger_.mu);
    for (const auto& at : ledger_.acked_at) {
      if (at >= t) return at;
    }
    return std::nullopt;
  }
  // Blocks until a write is acknowledged at or after `t`; seconds from `t`, or -1 on timeout.
  double recovered_after(Clock::time_point t, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (auto at = first_ack_after(t)) return seconds_between(t, *at);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  // The longest time without any acknowledged write between `from` and `to`: how long
  // writes were unavailable around an event in that window.
  double longest_gap(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(ledger_.mu);
    Clock::time_point previous = from;
    double gap = 0;
    for (const auto& at : ledger_.acked_at) {
      if (at < from) continue;
      if (at > to) break;
      gap = std::max(gap, seconds_between(previous, at));
      previous = at;
    }
    return std::max(gap, seconds_between(previous, to));
  }
  std::string statuses() {
    std::lock_guard lock(ledger_.mu);
    std::string out;
    for (const auto& [status, n] : ledger_.statuses) {
      out += " " + std::to_string(status) + "x" + std::to_string(n);
    }
    return out;
  }

 private:
  void run(int port) {
    HttpClient client(port);
    std::vector<std::string> mine;
    for (int i = 0; !stop_.load(); ++i) {
      const auto started = Clock::now();
      HttpResponse r;
      std::string user, name;
      try {
        if (mine.empty() || i % 5 == 0) {
          r = client.request("POST", kApi + "/users/ensure-by-email",
                             acct::json_str({{"email", acct::unique_email("ha")}}));
        } else {
          user = mine[static_cast<std::size_t>(i) % mine.size()];
          name = events::fresh_name();
          r = events::rename_on(client, user, name);
        }
      } catch (const std::exception&) {
        r.status = 0;  // no answer at all: counted, and fails the status check
        client.reconnect();
      }
      const auto ended = Clock::now();
      std::lock_guard lock(ledger_.mu);
      ++ledger_.statuses[r.status];
      if (r.status == 200 || r.status == 201) {
        if (user.empty()) {
          user = acct::str(acct::body_json(r), "user_id");
          mine.push_back(user);
          ledger_.users.push_back(user);
        } else {
          ledger_.acked_renames[user].push_back(name);
        }
        ledger_.acked_at.push_back(ended);
      } else {
        ledger_.slowest_error_s =
            std::max(ledger_.slowest_error_s, seconds_between(started, ended));
      }
    }
  }

  Ledger ledger_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Every answer was a success, 503 or 504 (the only others the contract allows while the
// primary changes), each error within `deadline_s`, and enough succeeded to prove something.
inline void expect_truthful_answers(Ledger& ledger, double deadline_s) {
  std::lock_guard lock(ledger.mu);
  for (const auto& [status, n] : ledger.statuses) {
    EXPECT_TRUE(status == 200 || status == 201 || status == 503 || status == 504)
        << n << " answers with status " << status;
  }
  EXPECT_LT(ledger.slowest_error_s, deadline_s) << "an error answer took longer than the deadline";
  EXPECT_GT(ledger.statuses[200] + ledger.statuses[201], 20);
}

// Zero acknowledged writes lost: every acknowledged account is in `accounts` (user_id,
// user_name rows read from the primary now). Zero events lost, none duplicated, per-user order
// kept: each user's user.created is in the lifecycle stream once, its profile.changed events
// form one chain containing every acknowledged rename in order (a rename answered 504 may be
// in it too), and the stored name is the chain's last. Returns the acknowledged renames.
inline std::size_t expect_nothing_lost(Ledger& ledger,
                                       const std::vector<std::vector<std::string>>& accounts,
                                       RedisServer& redis, const events::Streams& st) {
  std::lock_guard lock(ledger.mu);
  std::map<std::string, std::string> stored;
  for (const auto& row : accounts) stored[row.at(0)] = row.at(1);
  for (const auto& user : ledger.users) EXPECT_TRUE(stored.count(user)) << user << " was lost";

  std::map<std::string, std::vector<events::Entry>> lifecycle, domain;  // per user, in order
  for (auto& e : events::read_stream(redis, st.lifecycle, "lifecycle")) {
    lifecycle[e.field("user_id")].push_back(std::move(e));
  }
  for (auto& e : events::read_stream(redis, st.domain, "domain")) {
    domain[e.field("user_id")].push_back(std::move(e));
  }
  std::size_t acked_renames = 0;
  for (const auto& user : ledger.users) {
    SCOPED_TRACE(user);
    const auto& created = lifecycle[user];
    EXPECT_EQ(created.size(), 1u);
    if (created.size() != 1) continue;
    EXPECT_EQ(created[0].field("event_type"), "user.created");
    const auto& renames = domain[user];
    EXPECT_EQ(events::duplicates(renames), 0u);
    events::expect_rename_chain(renames, acct::str(created[0].payload, "user_name"));
    std::vector<std::string> chain;
    for (const auto& e : renames) chain.push_back(acct::str(e.payload, "user_name"));
    const auto& acked = ledger.acked_renames[user];
    acked_renames += acked.size();
    auto at = chain.begin();
    for (const auto& name : acked) {
      at = std::find(at, chain.end(), name);
      EXPECT_NE(at, chain.end()) << "acknowledged rename to " << name << " has no event";
      if (at == chain.end()) break;
    }
    const std::string last =
        chain.empty() ? acct::str(created[0].payload, "user_name") : chain.back();
    EXPECT_EQ(stored[user], last) << "the stored name is not the last event's";
  }
  return acked_renames;
}

}  // namespace userservice::testing::ha
