// The outbox relay (api.md §10). Events written through the HTTP API reach the two
// Redis streams with the fields of §10, at least once, in commit order per user; they survive
// a Redis outage, SIGKILL of the service and several instances relaying at once; published rows
// leave the outbox; MAXLEN ~ trims the streams. Everything runs against real servers.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "integration/account_helpers.h"
#include "integration/event_stream_helpers.h"
#include "support/tcp_proxy.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace std::chrono_literals;
namespace json = boost::json;

using namespace userservice::testing::events;

// ---------------------------------------------------------------------------------------------

TEST(EventsRelay, EveryEventTypeReachesItsStreamWithTheFieldsOfTheContract) {
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st));
  RedisServer& redis = shared_redis();

  std::string trace_created, trace_renamed, trace_settings, trace_country, trace_deleted;
  const std::string email = unique_email("types");
  auto created = post_json(
      s, "/users/ensure-by-email",
      {{"email", email},
       {"registration_context", {{"preferred_language", "de"}, {"time_zone", "Europe/Berlin"}}}},
      trace_headers(trace_created));
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string id = str(body_json(created), "user_id");
  const std::string minted_name = initial_user_name(s, id);
  const std::string new_name = fresh_name();
  ASSERT_EQ(rename(s, id, new_name, trace_headers(trace_renamed)).status, 200u);
  ASSERT_EQ(s.call("PATCH", kApi + "/users/" + id + "/settings", json_str({{"time_zone", "UTC"}}),
                   trace_headers(trace_settings))
                .status,
            200u);
  ASSERT_EQ(s.call("PUT", kApi + "/users/" + id + "/declared-country",
                   json_str({{"declared_country", "DE"}}), trace_headers(trace_country))
                .status,
            200u);
  auto deleted = soft_delete(s, id, "gdpr", trace_headers(trace_deleted));
  ASSERT_EQ(deleted.status, 200u) << deleted.body;
  const std::string deleted_at = str(body_json(deleted), "deleted_at");

  expect_outbox_drains(s);
  auto lifecycle = user_entries(redis, st.lifecycle, "lifecycle", id);
  auto domain = user_entries(redis, st.domain, "domain", id);
  ASSERT_EQ(lifecycle.size(), 2u);
  ASSERT_EQ(domain.size(), 3u);
  for (const auto& e : lifecycle) expect_entry_shape(e);
  for (const auto& e : domain) expect_entry_shape(e);
  std::set<std::string> ids;
  for (const auto& e : lifecycle) ids.insert(e.field("event_id"));
  for (const auto& e : domain) ids.insert(e.field("event_id"));
  EXPECT_EQ(ids.size(), 5u) << "event ids are unique";

  // user.created (lifecycle)
  const Entry& c = lifecycle[0];
  EXPECT_EQ(c.field("event_type"), "user.created");
  EXPECT_EQ(c.field("trace_id"), trace_created);
  EXPECT_TRUE(same_json(c.payload, json::value{{"user_id", id},
                                               {"email", email},
                                               {"user_name", minted_name},
                                               {"preferred_language", "de"},
                                               {"time_zone", "Europe/Berlin"},
                                               {"created_at", c.field("occurred_at")}}))
      << json_str(c.payload);
  // user.profile.changed (domain)
  EXPECT_EQ(domain[0].field("event_type"), "user.profile.changed");
  EXPECT_EQ(domain[0].field("trace_id"), trace_renamed);
  EXPECT_TRUE(same_json(
      domain[0].payload,
      json::value{{"user_id", id}, {"user_name", new_name}, {"previous_user_name", minted_name}}))
      << json_str(domain[0].payload);
  // user.settings.changed (domain)
  EXPECT_EQ(domain[1].field("event_type"), "user.settings.changed");
  EXPECT_EQ(domain[1].field("trace_id"), trace_settings);
  EXPECT_TRUE(same_json(domain[1].payload, json::value{{"user_id", id},
                                                       {"preferred_language", "de"},
                                                       {"time_zone", "UTC"},
                                                       {"previous_preferred_language", "de"},
                                                       {"previous_time_zone", "Europe/Berlin"}}))
      << json_str(domain[1].payload);
  // user.declared_country.changed (domain)
  EXPECT_EQ(domain[2].field("event_type"), "user.declared_country.changed");
  EXPECT_EQ(domain[2].field("trace_id"), trace_country);
  EXPECT_TRUE(same_json(domain[2].payload, json::value{{"user_id", id},
                                                       {"declared_country", "DE"},
                                                       {"previous_declared_country", nullptr}}))
      << json_str(domain[2].payload);
  // user.deleted (lifecycle)
  const Entry& d = lifecycle[1];
  EXPECT_EQ(d.field("event_type"), "user.deleted");
  EXPECT_EQ(d.field("trace_id"), trace_deleted);
  EXPECT_EQ(d.field("occurred_at"), deleted_at);
  EXPECT_TRUE(same_json(d.payload, json::value{{"user_id", id},
                                               {"deleted_at", deleted_at},
                                               {"reason_code", "gdpr"},
                                               {"actor", actor()}}))
      << json_str(d.payload);

  // Commit order across the two streams: every entry id of a later write is not smaller.
  auto ms = [](const Entry& e) { return std::stoll(e.id.substr(0, e.id.find('-'))); };
  EXPECT_LE(ms(lifecycle[0]), ms(domain[0]));
  EXPECT_LE(ms(domain[2]), ms(lifecycle[1]));

  // Published rows left the outbox; the identity sequence still counts all five.
  EXPECT_EQ(outbox_rows(s), 0);
  EXPECT_EQ(events_ever_written(s), 5);
  // The helper proposed for account_helpers.h sees the five events in commit order.
  auto merged = events_for(s, id);
  std::vector<std::string> types;
  for (const auto& e : merged) types.push_back(e.event_type);
  EXPECT_EQ(types, (std::vector<std::string>{"user.created", "user.profile.changed",
                                             "user.settings.changed",
                                             "user.declared_country.changed", "user.deleted"}));
  ASSERT_EQ(merged.size(), 5u);
  EXPECT_EQ(merged[0].stream, "lifecycle");
  EXPECT_EQ(merged[0].trace_id, trace_created);
  EXPECT_EQ(merged[1].stream, "domain");
  EXPECT_EQ(merged[1].raw_payload, domain[0].field("payload"));
}

TEST(EventsRelay, PublishesWithinTensOfMillisecondsOfTheCommit) {
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}}));
  RedisServer& redis = shared_redis();
  auto a = create_account(s);
  expect_outbox_drains(s);

  // Time from the HTTP response (the commit happened before it) to the entry being readable
  // in Redis, polled every millisecond or so.
  HttpClient client(s.port);
  std::vector<double> ms;
  std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < 40; ++i) {
    // Writes at random moments, not in step with the relay's polling.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30'000));
    const std::string name = fresh_name();
    ASSERT_EQ(rename_on(client, a.user_id, name).status, 200u);
    const auto t0 = std::chrono::steady_clock::now();
    bool seen = eventually(
        [&] {
          auto r = redis.command_reply({"XREVRANGE", st.domain, "+", "-", "COUNT", "1"});
          return !r.elements.empty() && r.elements[0].elements[1].elements.size() >= 10 &&
                 r.elements[0].elements[1].elements[9].str.find(name) != std::string::npos;
        },
        5s, 200us);
    ASSERT_TRUE(seen) << "rename " << i << " never reached Redis";
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double p50 = ms[ms.size() / 2], p90 = ms[ms.size() * 9 / 10], max = ms.back();
  // The relay's own view: occurred_at (before the commit) to XADD acknowledged.
  // (Observed right after Redis acknowledged: a moment after the entry became readable.)
  std::string text;
  EXPECT_TRUE(eventually(
      [&] {
        text = metrics_text(s);
        return metric_value(text, "outbox_event_publish_delay_seconds_count") >= 41;
      },
      5s))
      << text;
  const double count = metric_value(text, "outbox_event_publish_delay_seconds_count");
  const double sum = metric_value(text, "outbox_event_publish_delay_seconds_sum");
  std::cout << "[ relay    ] response->readable in Redis: p50 " << p50 << " ms, p90 " << p90
            << " ms, max " << max << " ms; occurred_at->XADD mean " << 1000 * sum / count
            << " ms\n";
  RecordProperty("publish_latency_p50_ms", std::to_string(p50));
  RecordProperty("publish_latency_max_ms", std::to_string(max));
  // The relay polls every 25 ms once caught up: tens of milliseconds at most.
  EXPECT_LT(p50, 100.0);
}

TEST(EventsRelay, OrderPerUserHoldsAcrossManyConcurrentWrites) {
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st));
  RedisServer& redis = shared_redis();

  // Three users; four threads rename all of them concurrently, so each user's renames race
  // each other and the relay must reproduce the order in which they committed.
  constexpr int kUsers = 3, kThreads = 4, kRenamesPerThread = 30;
  std::vector<std::string> ids, initial;
  for (int u = 0; u < kUsers; ++u) {
    ids.push_back(create_account(s).user_id);
    initial.push_back(initial_user_name(s, ids.back()));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(s.port);
      for (int i = 0; i < kRenamesPerThread; ++i) {
        auto r = rename_on(client, ids[(i + t) % kUsers], fresh_name());
        if (r.status == 200) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(ok.load(), kThreads * kRenamesPerThread);

  expect_outbox_drains(s);
  std::size_t total = 0;
  for (int u = 0; u < kUsers; ++u) {
    SCOPED_TRACE(ids[u]);
    auto entries = user_entries(redis, st.domain, "domain", ids[u]);
    EXPECT_EQ(duplicates(entries), 0u);
    expect_rename_chain(entries, initial[u]);
    // The chain ends at the name the account has now.
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(str(entries.back().payload, "user_name"), initial_user_name(s, ids[u]));
    total += entries.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kRenamesPerThread));
}

TEST(EventsRelay, RedisOutageDelaysEventsAndLosesNone) {
  const Streams st = unique_streams();
  RedisServer redis("outage-secret");
  auto s =
      start_service(redis_env(redis, stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}})));
  auto a = create_account(s);
  const std::string before_outage = initial_user_name(s, a.user_id);
  expect_outbox_drains(s);

  redis.stop();
  // Requests keep succeeding, promptly: Redis is not on the request path.
  HttpClient client(s.port);
  std::vector<std::string> names;
  for (int i = 0; i < 30; ++i) {
    names.push_back(fresh_name());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = rename_on(client, a.user_id, names.back());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  }
  auto b = create_account(s);           // a lifecycle event in the backlog too
  std::this_thread::sleep_for(1500ms);  // several reconnect attempts fail meanwhile
  EXPECT_EQ(outbox_rows(s), 31) << "the backlog waits in the outbox";
  {
    // The leader refreshes the backlog gauges about once a second while retrying.
    std::string text;
    EXPECT_TRUE(eventually(
        [&] {
          text = metrics_text(s);
          return metric_value(text, "outbox_backlog_events") == 31;
        },
        5s))
        << text;
    EXPECT_GT(metric_value(text, "outbox_publish_failures_total"), 0) << text;
    EXPECT_GT(metric_value(text, "outbox_oldest_event_age_seconds"), 0.5) << text;
    EXPECT_EQ(metric_value(text, "outbox_relay_leader"), 1) << text;
  }

  // Redis comes back (empty: no persistence); no restart of the service.
  redis.start();
  expect_outbox_drains(s, 20s);
  auto entries = dedup(user_entries(redis, st.domain, "domain", a.user_id));
  expect_rename_chain(entries, before_outage, names);
  auto created = user_entries(redis, st.lifecycle, "lifecycle", b.user_id);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].field("event_type"), "user.created");

  auto text = metrics_text(s);
  EXPECT_EQ(metric_value(text, "outbox_backlog_events"), 0) << text;
  EXPECT_GE(metric_value(text, "outbox_events_published_total{stream=\"domain\"}"), 30) << text;
  EXPECT_GE(metric_value(text, "outbox_events_published_total{stream=\"lifecycle\"}"), 2) << text;
  EXPECT_NE(s.process->stdout_text().find("outbox relay reconnected to redis"), std::string::npos);
}

TEST(EventsRelay, SigkillBetweenCommitAndPublishLosesNothing) {
  const Streams st = unique_streams();
  RedisServer redis("kill-secret");
  auto s = start_service(redis_env(redis, stream_env(st)));
  auto a = create_account(s);
  std::string previous = initial_user_name(s, a.user_id);
  expect_outbox_drains(s);
  std::vector<std::string> names;

  // 1. Certainly between commit and publish: Redis is down while the writes commit.
  redis.stop();
  {
    HttpClient client(s.port);
    for (int i = 0; i < 20; ++i) {
      names.push_back(fresh_name());
      ASSERT_EQ(rename_on(client, a.user_id, names.back()).status, 200u);
    }
  }
  ASSERT_EQ(outbox_rows(s), 20);
  s.process->signal(SIGKILL);
  ASSERT_TRUE(s.process->wait_exit(5s).has_value());
  redis.start();
  s.process->start();
  ASSERT_TRUE(s.process->wait_listening(s.port, 20s)) << tail_of(s.process->stdout_text());
  expect_outbox_drains(s);
  expect_rename_chain(dedup(user_entries(redis, st.domain, "domain", a.user_id)), previous, names);

  // 2. A burst with Redis up, killed right after the last response: whatever was in flight
  // (selected, XADDed, not yet deleted) goes out again after the restart.
  {
    HttpClient client(s.port);
    for (int i = 0; i < 60; ++i) {
      names.push_back(fresh_name());
      ASSERT_EQ(rename_on(client, a.user_id, names.back()).status, 200u);
    }
  }
  s.process->signal(SIGKILL);
  ASSERT_TRUE(s.process->wait_exit(5s).has_value());
  s.process->start();
  ASSERT_TRUE(s.process->wait_listening(s.port, 20s)) << tail_of(s.process->stdout_text());
  expect_outbox_drains(s);
  expect_rename_chain(dedup(user_entries(redis, st.domain, "domain", a.user_id)), previous, names);
}

TEST(EventsRelay, TwoInstancesPublishEveryEventOnceAndTakeOverFromEachOther) {
  const Streams st = unique_streams();
  RedisServer& redis = shared_redis();
  auto s1 = start_service(stream_env(st));
  auto s2 = start_service(stream_env(st), s1.dsn);  // same database, same streams

  // Exactly one leader.
  ASSERT_TRUE(eventually([&] {
    return s1.process->stdout_text().find("outbox relay is the leader") != std::string::npos ||
           s2.process->stdout_text().find("outbox relay is the leader") != std::string::npos;
  }));
  std::this_thread::sleep_for(1500ms);  // past the follower's lock retry
  const bool first_leads =
      s1.process->stdout_text().find("outbox relay is the leader") != std::string::npos;
  const bool second_leads =
      s2.process->stdout_text().find("outbox relay is the leader") != std::string::npos;
  ASSERT_NE(first_leads, second_leads);

  // Writes through both instances, to the same users, concurrently.
  constexpr int kUsers = 4, kRenamesPerInstance = 40;
  std::vector<std::string> ids, initial;
  for (int u = 0; u < kUsers; ++u) {
    ids.push_back(create_account(u % 2 ? s1 : s2).user_id);
    initial.push_back(initial_user_name(s1, ids.back()));
  }
  auto writer = [&](const RunningService& s) {
    HttpClient client(s.port);
    for (int i = 0; i < kRenamesPerInstance; ++i) {
      EXPECT_EQ(rename_on(client, ids[i % kUsers], fresh_name()).status, 200u);
    }
  };
  std::thread t1(writer, std::cref(s1)), t2(writer, std::cref(s2));
  t1.join();
  t2.join();
  expect_outbox_drains(s1);
  for (int u = 0; u < kUsers; ++u) {
    SCOPED_TRACE(ids[u]);
    auto entries = user_entries(redis, st.domain, "domain", ids[u]);
    EXPECT_EQ(entries.size(), static_cast<std::size_t>(2 * kRenamesPerInstance / kUsers));
    EXPECT_EQ(duplicates(entries), 0u) << "one relay at a time";
    expect_rename_chain(entries, initial[u]);
    EXPECT_EQ(user_entries(redis, st.lifecycle, "lifecycle", ids[u]).size(), 1u);
  }

  // The leader dies; the other instance takes over and publishes what is written next.
  RunningService& leader = first_leads ? s1 : s2;
  RunningService& follower = first_leads ? s2 : s1;
  leader.process->signal(SIGKILL);
  ASSERT_TRUE(leader.process->wait_exit(5s).has_value());
  auto late = create_account(follower);
  EXPECT_TRUE(eventually([&] {
    return user_entries(redis, st.lifecycle, "lifecycle", late.user_id).size() == 1;
  })) << tail_of(follower.process->stdout_text());
  expect_outbox_drains(follower);
  EXPECT_NE(follower.process->stdout_text().find("outbox relay is the leader"), std::string::npos);
}

TEST(EventsRelay, StreamsAreTrimmedApproximatelyToTheirMaxLength) {
  const Streams st = unique_streams();
  RedisServer redis;
  // Small radix-tree nodes so that "MAXLEN ~" (which trims whole nodes only) shows at once.
  redis.command({"CONFIG", "SET", "stream-node-max-entries", "5"});
  auto s = start_service(
      redis_env(redis, stream_env(st, {{"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM_MAX_LEN", "10"}})));
  auto a = create_account(s);
  HttpClient client(s.port);
  std::string last;
  for (int i = 0; i < 80; ++i) {
    last = fresh_name();
    ASSERT_EQ(rename_on(client, a.user_id, last).status, 200u);
  }
  expect_outbox_drains(s);
  auto len = std::stoll(redis.command({"XLEN", st.domain}).at(0));
  EXPECT_GE(len, 10);
  EXPECT_LE(len, 15);  // at most one node over
  auto entries = read_stream(redis, st.domain, "domain");
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(str(entries.back().payload, "user_name"), last) << "the newest entries are kept";
  EXPECT_EQ(std::stoll(redis.command({"XLEN", st.lifecycle}).at(0)), 1);
}

TEST(EventsRelay, ShutdownIsBoundedWhileRedisIsDownAndDrainsWhenItIsUp) {
  const Streams st = unique_streams();
  RedisServer redis("shutdown-secret");
  std::map<std::string, std::string> env =
      redis_env(redis, stream_env(st, {{"USERSERVICE_SHUTDOWN_TIMEOUT", "2s"}}));

  // Redis down: SIGTERM still ends the process within the shutdown timeout; the events stay.
  auto s = start_service(env);
  auto a = create_account(s);
  expect_outbox_drains(s);
  redis.stop();
  ASSERT_EQ(rename(s, a.user_id, fresh_name()).status, 200u);
  std::this_thread::sleep_for(300ms);  // the relay is now retrying
  auto t0 = std::chrono::steady_clock::now();
  s.process->signal(SIGTERM);
  auto code = s.process->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3500ms);
  EXPECT_EQ(outbox_rows(s), 1);

  // Redis up: a restarted instance publishes the leftover; a SIGTERM right after a write
  // publishes that write before exiting.
  redis.start();
  s.process->start();
  ASSERT_TRUE(s.process->wait_listening(s.port, 20s));
  expect_outbox_drains(s);
  const std::string name = fresh_name();
  ASSERT_EQ(rename(s, a.user_id, name).status, 200u);
  s.process->signal(SIGTERM);
  code = s.process->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(outbox_rows(s), 0);
  auto entries = dedup(user_entries(redis, st.domain, "domain", a.user_id));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(str(entries.back().payload, "user_name"), name);
}

TEST(EventsRelay, RelayRecoversFromAPostgresRestart) {
  const Streams st = unique_streams();
  PgServer pg;  // our own cluster, so that restarting it disturbs no other test
  auto s = start_service(stream_env(st), pg.create_database());
  RedisServer& redis = shared_redis();
  auto a = create_account(s);
  const std::string initial = initial_user_name(s, a.user_id);
  expect_outbox_drains(s);

  pg.stop();
  std::this_thread::sleep_for(300ms);  // the relay notices and starts reconnecting
  pg.start();
  // The request pool discards its broken connections: retry until it serves again.
  const std::string name = fresh_name();
  ASSERT_TRUE(eventually([&] { return rename(s, a.user_id, name).status == 200; }, 10s));
  // Published within the reconnect backoff, once the relay has its session and lock again.
  EXPECT_TRUE(eventually([&] {
    return user_entries(redis, st.domain, "domain", a.user_id).size() == 1;
  })) << tail_of(s.process->stdout_text());
  expect_outbox_drains(s);
  expect_rename_chain(user_entries(redis, st.domain, "domain", a.user_id), initial, {name});
  EXPECT_NE(s.process->stdout_text().find("outbox relay reconnected to postgres"),
            std::string::npos);
  // Prompt again on the new session.
  const std::string second = fresh_name();
  ASSERT_EQ(rename(s, a.user_id, second).status, 200u);
  EXPECT_TRUE(eventually(
      [&] { return user_entries(redis, st.domain, "domain", a.user_id).size() == 2; }, 500ms));
}

// ---------------------------------------------------------------------------------------------
// Partial failures of the relay (docs/architecture.md, "Events").

namespace {

// Whether the process logged `needle` (a message text) since it started.
bool logged(const RunningService& s, std::string_view needle) {
  return s.process->stdout_text().find(needle) != std::string::npos;
}

std::size_t times_logged(const RunningService& s, std::string_view needle) {
  const std::string text = s.process->stdout_text();
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) {
    ++n;
  }
  return n;
}

// Every event of `users` once per stream, in per-user commit order (the rename chains).
void expect_each_event_once_in_order(RedisServer& redis, const Streams& st,
                                     const std::vector<std::string>& users,
                                     const std::vector<std::string>& initial_names,
                                     const std::vector<std::vector<std::string>>& renames) {
  for (std::size_t u = 0; u < users.size(); ++u) {
    SCOPED_TRACE(users[u]);
    auto domain = user_entries(redis, st.domain, "domain", users[u]);
    EXPECT_EQ(duplicates(domain), 0u);
    expect_rename_chain(domain, initial_names[u], renames[u]);
    auto lifecycle = user_entries(redis, st.lifecycle, "lifecycle", users[u]);
    ASSERT_EQ(lifecycle.size(), 1u);
    EXPECT_EQ(lifecycle[0].field("event_type"), "user.created");
  }
}

}  // namespace

// The domain stream's key holds a value of another type: Redis refuses every XADD to it
// (WRONGTYPE). The lifecycle stream must go on, each event exactly once; the domain events
// wait, in order, and go out once the key is repaired. The refusal shows in a metric and in a
// log line that does not repeat for every retry.
TEST(EventsRelay, WrongTypeStreamKeyHoldsBackOnlyItsOwnStream) {
  const Streams st = unique_streams();
  RedisServer& redis = shared_redis();
  redis.command({"SET", st.domain, "not a stream"});
  auto s = start_service(stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}}));
  constexpr int kUsers = 5, kRenames = 6;
  std::vector<std::string> users, initial;
  std::vector<std::vector<std::string>> renames(kUsers);
  HttpClient client(s.port);
  for (int round = 0; round < 3; ++round) {  // accounts and renames interleaved over time
    for (int u = 0; u < kUsers; ++u) {
      if (round == 0) {
        users.push_back(create_account(s).user_id);
        initial.push_back(initial_user_name(s, users.back()));
      }
      for (int r = 0; r < kRenames / 3; ++r) {
        renames[u].push_back(fresh_name());
        ASSERT_EQ(rename_on(client, users[u], renames[u].back()).status, 200u);
      }
    }
    std::this_thread::sleep_for(700ms);
  }
  // Lifecycle: every user.created exactly once, although the domain stream refuses.
  ASSERT_TRUE(eventually([&] {
    return read_stream(redis, st.lifecycle, "lifecycle").size() >= static_cast<std::size_t>(kUsers);
  })) << tail_of(s.process->stdout_text());
  std::this_thread::sleep_for(2s);  // several retries of the refused stream
  auto lifecycle = read_stream(redis, st.lifecycle, "lifecycle");
  EXPECT_EQ(lifecycle.size(), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(duplicates(lifecycle), 0u);
  EXPECT_EQ(outbox_rows(s), kUsers * kRenames) << "the domain events wait in the outbox";
  const std::string first_refused =
      s.sql(R"(SELECT min(seq) FROM "user".event_outbox WHERE stream = 'domain')").at(0).at(0);
  std::string text = metrics_text(s);
  EXPECT_EQ(metric_value(text, "outbox_stream_blocked{stream=\"domain\"}"), 1) << text;
  EXPECT_EQ(metric_value(text, "outbox_stream_blocked{stream=\"lifecycle\"}"), 0) << text;
  EXPECT_EQ(metric_value(text, "outbox_stream_blocked_seq{stream=\"domain\"}"),
            std::stod(first_refused))
      << text;
  EXPECT_EQ(times_logged(s, "redis refuses an event"), 1u) << "rate-limited, not per retry";
  EXPECT_TRUE(logged(s, "WRONGTYPE"));
  EXPECT_EQ(metric_value(text, "outbox_relay_leader"), 1) << "a refusal is not an outage";

  // Repaired: every domain event once, in per-user order; the gauges clear.
  redis.command({"DEL", st.domain});
  expect_outbox_drains(s);
  expect_each_event_once_in_order(redis, st, users, initial, renames);
  EXPECT_EQ(read_stream(redis, st.domain, "domain").size(),
            static_cast<std::size_t>(kUsers * kRenames));
  text = metrics_text(s);
  EXPECT_EQ(metric_value(text, "outbox_stream_blocked{stream=\"domain\"}"), 0) << text;
  EXPECT_EQ(metric_value(text, "outbox_stream_blocked_seq{stream=\"domain\"}"), 0) << text;
  EXPECT_TRUE(logged(s, "stream publishes again"));
}

// The leader freezes (SIGSTOP: a hung VM, a stuck page-fault storm). Its PostgreSQL session
// stays open, so its lock would stay too; the relay session's idle_session_timeout (the
// leader timeout, 10 s by default) ends it, and the other instance publishes within 15 s.
// When the frozen leader wakes up it cannot publish a stale batch (the fence): every event
// is in Redis once, in order.
TEST(EventsRelay, FrozenLeaderIsReplacedWithinFifteenSeconds) {
  const Streams st = unique_streams();
  RedisServer& redis = shared_redis();
  auto s1 = start_service(stream_env(st));
  ASSERT_TRUE(eventually([&] { return logged(s1, "outbox relay is the leader"); }));
  auto s2 = start_service(stream_env(st), s1.dsn);
  auto a = create_account(s2);
  const std::string initial = initial_user_name(s2, a.user_id);
  std::vector<std::string> names;
  expect_outbox_drains(s2);

  s1.process->signal(SIGSTOP);
  const auto frozen_at = std::chrono::steady_clock::now();
  names.push_back(fresh_name());
  ASSERT_EQ(rename(s2, a.user_id, names.back()).status, 200u);
  ASSERT_TRUE(eventually(
      [&] { return user_entries(redis, st.domain, "domain", a.user_id).size() == 1; }, 20s))
      << tail_of(s2.process->stdout_text());
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen_at).count();
  std::cout << "[ relay    ] frozen leader replaced, event published after " << took << " s\n";
  RecordProperty("frozen_leader_handover_seconds", std::to_string(took));
  EXPECT_LT(took, 15.0);
  EXPECT_TRUE(logged(s2, "outbox relay is the leader"));

  // The old leader wakes up; both instances take writes again.
  s1.process->signal(SIGCONT);
  HttpClient c1(s1.port), c2(s2.port);
  for (int i = 0; i < 20; ++i) {
    names.push_back(fresh_name());
    ASSERT_EQ(rename_on(i % 2 ? c1 : c2, a.user_id, names.back()).status, 200u);
  }
  expect_outbox_drains(s2);
  auto entries = user_entries(redis, st.domain, "domain", a.user_id);
  EXPECT_EQ(duplicates(entries), 0u);
  expect_rename_chain(entries, initial, names);
}

// The leader loses its path to Redis (a proxy between them is cut) while another instance
// reaches Redis: after a few failed cycles it hands the lead over, and the other instance
// publishes what both write meanwhile.
TEST(EventsRelay, LeaderCutOffFromRedisHandsOverToAnInstanceThatReachesIt) {
  const Streams st = unique_streams();
  RedisServer redis("handover-secret");
  TcpProxy path(redis.port());
  auto via_proxy = redis_env(redis, stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}}));
  via_proxy["USERSERVICE_REDIS_MASTER_ADDR"] = "127.0.0.1:" + std::to_string(path.port());
  auto s1 = start_service(via_proxy);
  ASSERT_TRUE(eventually([&] { return logged(s1, "outbox relay is the leader"); }));
  auto s2 = start_service(
      redis_env(redis, stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}})), s1.dsn);
  auto a = create_account(s1);
  const std::string initial = initial_user_name(s1, a.user_id);
  expect_outbox_drains(s1);

  path.cut();
  const auto cut_at = std::chrono::steady_clock::now();
  std::vector<std::string> names;
  HttpClient c1(s1.port), c2(s2.port);
  for (int i = 0; i < 10; ++i) {
    names.push_back(fresh_name());
    ASSERT_EQ(rename_on(i % 2 ? c1 : c2, a.user_id, names.back()).status, 200u);
  }
  ASSERT_TRUE(eventually([&] { return outbox_rows(s1) == 0; }, 20s))
      << tail_of(s1.process->stdout_text()) << tail_of(s2.process->stdout_text());
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cut_at).count();
  std::cout << "[ relay    ] leader cut off from redis handed over after " << took << " s\n";
  RecordProperty("redis_cut_handover_seconds", std::to_string(took));
  EXPECT_LT(took, 15.0);
  EXPECT_TRUE(logged(s1, "outbox relay gave up the lead"));
  auto entries = user_entries(redis, st.domain, "domain", a.user_id);
  EXPECT_EQ(duplicates(entries), 0u);
  expect_rename_chain(entries, initial, names);
  // One leader, and it is the instance that reaches Redis.
  EXPECT_TRUE(eventually(
      [&] {
        return metric_value(metrics_text(s1), "outbox_relay_leader") == 0 &&
               metric_value(metrics_text(s2), "outbox_relay_leader") == 1;
      },
      5s));
  EXPECT_GE(metric_value(metrics_text(s1), "outbox_relay_step_downs_total"), 1);
}

// The database was restored (its epoch sequence went back) while Redis kept the fence of the
// old leaders: a new leader must move the sequence on, not be refused forever.
TEST(EventsRelay, AFenceAboveTheEpochSequenceIsMovedPastNotAStall) {
  const Streams st = unique_streams();
  RedisServer& redis = shared_redis();
  redis.command({"SET", st.domain + ":relay_fence", "1000"});
  auto s = start_service(stream_env(st));
  auto a = create_account(s);
  EXPECT_TRUE(eventually([&] {
    return user_entries(redis, st.lifecycle, "lifecycle", a.user_id).size() == 1;
  })) << tail_of(s.process->stdout_text());
  EXPECT_EQ(redis.command({"GET", st.domain + ":relay_fence"}).at(0), "1001");
  EXPECT_TRUE(logged(s, "moving it on"));
}

// Alone, a leader whose Redis is down keeps the lead (nobody could do better) and keeps the
// backlog gauges moving; the backlog is measured without counting every row.
TEST(EventsRelay, BacklogOfManyRowsIsMeasuredCheaplyDuringAnOutage) {
  const Streams st = unique_streams();
  RedisServer redis("backlog-secret");
  auto s =
      start_service(redis_env(redis, stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}})));
  // A leader first: an instance stands for leadership only while it reaches Redis, and the
  // relay starts after the listeners (under the sanitizers, after this test's next line).
  ASSERT_TRUE(
      eventually([&] { return metric_value(metrics_text(s), "outbox_relay_leader") == 1; }, 10s))
      << tail_of(s.process->stdout_text());
  redis.stop();
  s.sql(R"(INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                            payload)
           SELECT 'evt-backlog-' || g, 'domain', 'user.test', 'user-backlog', now(), '{}'
             FROM generate_series(1, 25000) g)");
  std::string text;
  EXPECT_TRUE(eventually(
      [&] {
        text = metrics_text(s);
        return metric_value(text, "outbox_backlog_events") == 25000;
      },
      10s))
      << text;
  std::this_thread::sleep_for(6s);  // past the step-down threshold: alone, it keeps leading
  text = metrics_text(s);
  EXPECT_EQ(metric_value(text, "outbox_relay_leader"), 1) << text;
  EXPECT_EQ(metric_value(text, "outbox_relay_step_downs_total"), 0) << text;
  s.sql(R"(DELETE FROM "user".event_outbox)");
}

// The outbox is a queue: every published row is deleted, so between VACUUMs it is mostly
// dead rows, and the relay polls it 40 times a second. Its polls must skip dead rows, not visit
// each one every time (a bitmap or sequential scan, which the planner picks for a table its
// statistics call small, reads every dead row's heap page on every poll). Measured on the
// server's own counters: heap blocks read from the outbox while the relay polls an outbox of
// 30,000 dead rows and no live one. VACUUM is off for the table, as when autovacuum has not
// come round yet. (A long-open transaction, which also keeps the index scan from marking the
// entries dead, is the known limit in docs/architecture.md, "Dead rows".)
TEST(EventsRelay, PollsSkipTheDeadRowsOfPublishedEvents) {
  const Streams st = unique_streams();
  auto s = start_service(stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}}));
  ASSERT_TRUE(
      eventually([&] { return metric_value(metrics_text(s), "outbox_relay_leader") == 1; }, 10s))
      << tail_of(s.process->stdout_text());
  // Statistics that call the table empty, then 30,000 rows inserted and deleted in one
  // transaction: the relay never sees them alive, and they stay as dead rows.
  s.sql(R"(ALTER TABLE "user".event_outbox SET (autovacuum_enabled = false);
           ANALYZE "user".event_outbox)");
  s.sql(R"(INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                            payload)
           SELECT 'evt-dead-' || g, CASE WHEN g % 4 = 0 THEN 'lifecycle' ELSE 'domain' END,
                  'user.test', 'user-dead', now(), repeat('x', 200)
             FROM generate_series(1, 30000) g;
           DELETE FROM "user".event_outbox)");
  const auto heap_blocks = [&] {
    // Statistics reach the shared counters about once a second per busy backend.
    const auto rows = s.sql(R"(SELECT heap_blks_hit + heap_blks_read, pg_relation_size(relid)
                                 FROM pg_statio_user_tables
                                WHERE schemaname = 'user' AND relname = 'event_outbox')");
    return std::pair{std::stoll(rows.at(0).at(0)), std::stoll(rows.at(0).at(1)) / 8192};
  };
  // The first poll after the DELETE may visit every dead row once (that is how an index scan
  // learns they are dead); then the count must stand still.
  std::this_thread::sleep_for(3s);
  const auto [before, pages] = heap_blocks();
  std::this_thread::sleep_for(4s);  // ~160 polls
  const auto after = heap_blocks().first;
  std::cout << "[ relay    ] heap blocks of a " << pages << "-page outbox of dead rows read in 4 s"
            << " of polling: " << (after - before) << "\n";
  ASSERT_GT(pages, 500);  // the dead rows are there (30,000 rows of ~250 bytes)
  // A poll that visited the dead rows would read ~all pages: 160 polls, ~100 x the table.
  EXPECT_LT(after - before, pages) << "the relay's polls visit the dead rows";
  // And it still relays: a live event behind the dead ones is published.
  create_account(s);
  expect_outbox_drains(s);
}

// Durable hand-off: with USERSERVICE_REDIS_WAIT_REPLICAS=1, rows leave the outbox only once a
// real replica (redis-server --replicaof) has acknowledged them. With the replica down they
// stay (and are counted); when it is back they go, each event once on the master.
TEST(EventsRelay, WaitForARealReplicaBeforeForgettingEvents) {
  const Streams st = unique_streams();
  // No 5 s wait for more replicas before a full sync (Redis 7's default).
  RedisServer master("wait-secret", {"--repl-diskless-sync-delay", "0"});
  auto replica_args = [&] {
    return std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master.port()),
                                    "--masterauth", "wait-secret"};
  };
  // In sync (not merely connected): only then does it acknowledge writes.
  const auto replica_online = [&] {
    return eventually(
        [&] {
          return master.command({"INFO", "replication"}).at(0).find("state=online") !=
                 std::string::npos;
        },
        10s);
  };
  auto replica = std::make_unique<RedisServer>("wait-secret", replica_args());
  ASSERT_TRUE(replica_online());
  auto s = start_service(
      redis_env(master, stream_env(st, {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"},
                                        {"USERSERVICE_REDIS_WAIT_REPLICAS", "1"},
                                        {"USERSERVICE_REDIS_WAIT_TIMEOUT", "300ms"}})));
  auto a = create_account(s);
  const std::string initial = initial_user_name(s, a.user_id);
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    names.push_back(fresh_name());
    ASSERT_EQ(rename(s, a.user_id, names.back()).status, 200u);
  }
  expect_outbox_drains(s);
  // The replica holds them.
  EXPECT_TRUE(eventually(
      [&] {
        return std::stoll(replica->command({"XLEN", st.domain}).at(0)) == 5;
      },
      5s));

  replica.reset();  // stopped: no replica acknowledges
  for (int i = 0; i < 3; ++i) {
    names.push_back(fresh_name());
    ASSERT_EQ(rename(s, a.user_id, names.back()).status, 200u);
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(outbox_rows(s), 3) << "not acknowledged by a replica: still in the outbox";
  const std::string text = metrics_text(s);
  EXPECT_GT(metric_value(text, "outbox_replica_ack_shortfalls_total"), 0) << text;
  EXPECT_EQ(metric_value(text, "outbox_backlog_events"), 3) << text;
  EXPECT_EQ(times_logged(s, "too few redis replicas acknowledged"), 1u) << "not once per retry";

  replica = std::make_unique<RedisServer>("wait-secret", replica_args());
  ASSERT_TRUE(replica_online());
  expect_outbox_drains(s, 20s);
  auto entries = user_entries(master, st.domain, "domain", a.user_id);
  EXPECT_EQ(duplicates(entries), 0u) << "the retries found their entries already there";
  expect_rename_chain(entries, initial, names);
  EXPECT_TRUE(eventually(
      [&] {
        return std::stoll(replica->command({"XLEN", st.domain}).at(0)) == 8;
      },
      5s));
}
