// Eight instances on one database under mixed load (docs/scaling.md, "Many instances"): they
// start together on an empty database and the migrations run once; one relay leader for the
// whole run; every sanction expires exactly once although eight sweepers poll; every user's
// events are published once and in order; PostgreSQL never sees more connections than the
// instances may open.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace std::chrono_literals;
namespace cmd = userservice::testing::cmd;

namespace {

constexpr int kInstances = 8;
constexpr int kMaxOpen = 4;  // USERSERVICE_POSTGRES_MAX_OPEN_CONNS of each instance

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

double gauge(int admin_port, const std::string& name) {
  const std::string text = http(admin_port, "GET", "/metrics").body;
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

// The user's user.profile.changed events in publication order form one chain that ends with
// the last acknowledged name.
void expect_renames_in_order(const std::vector<cmd::Event>& all, std::string previous,
                             const std::vector<std::string>& acked) {
  std::vector<std::string> chain;
  for (const auto& e : all) {
    if (e.event_type != "user.profile.changed") continue;
    EXPECT_EQ(str(e.payload, "previous_user_name"), previous) << "out of order: " << e.event_id;
    previous = str(e.payload, "user_name");
    chain.push_back(previous);
  }
  EXPECT_EQ(chain, acked);
}

}  // namespace

TEST(ManyInstances, EightInstancesOnOneDatabaseMigrateOnceLeadOnceExpireOnceAndKeepOrder) {
  const std::string dsn = shared_pg().create_database();  // empty: the instances migrate it
  const cmd::Streams streams = cmd::unique_streams();
  // All eight are spawned before any is waited for, so they race for the migration lock.
  // (From this thread: a child's PR_SET_PDEATHSIG fires when the *thread* that forked it ends.)
  std::vector<cmd::Service> svc(kInstances);
  for (auto& v : svc) {
    v.streams = streams;
    v.s.dsn = dsn;
    v.s.port = free_loopback_port();
    v.s.admin_port = free_loopback_port();
    auto env = service_env(
        dsn, v.s.port,
        {{"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", std::to_string(kMaxOpen)},
         {"USERSERVICE_EXPIRY_SWEEP_INTERVAL", "200ms"},
         {"USERSERVICE_REDIS_DOMAIN_EVENTS_STREAM", streams.domain},
         {"USERSERVICE_REDIS_LIFECYCLE_EVENTS_STREAM", streams.lifecycle},
         {"USERSERVICE_ADMIN_HTTP_ADDR", "127.0.0.1:" + std::to_string(v.s.admin_port)}});
    v.s.process = std::make_unique<ServiceProcess>(USERSERVICE_BINARY, env);
    v.s.process->start();
  }
  for (auto& v : svc) {
    ASSERT_TRUE(cmd::eventually(
        [&] {
          return v.s.process->stdout_text().find("\"msg\":\"listening\"") != std::string::npos ||
                 !v.s.process->running();
        },
        30s));
    ASSERT_TRUE(v.s.process->wait_listening(v.s.port, 5s)) << v.s.process->stdout_text();
  }
  for (auto& s : svc) ASSERT_TRUE(s->process && s->process->running());

  // Connections, sampled throughout: each instance's pool plus its relay session.
  std::atomic<bool> stop{false};
  std::atomic<long> most_connections{0};
  std::thread monitor([&] {
    while (!stop.load()) {
      const long n = std::stol(
          shared_pg()
              .query(dsn,
                     "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()")
              .at(0)
              .at(0));
      long seen = most_connections.load();
      while (n > seen && !most_connections.compare_exchange_weak(seen, n)) {
      }
      std::this_thread::sleep_for(50ms);
    }
  });

  // Mixed load, one client per instance: ensure, renames, reads, and a short sanction that
  // the sweepers must expire.
  std::mutex mu;
  std::map<unsigned, int> statuses;
  std::map<std::string, std::vector<std::string>> acked;  // user -> names, in order
  std::map<std::string, std::string> first_name;
  std::atomic<int> sanctions{0};
  std::atomic<int> name_seq{0};
  std::vector<std::thread> clients;
  const auto until = std::chrono::steady_clock::now() + 4s;
  for (int i = 0; i < kInstances; ++i) {
    clients.emplace_back([&, i] {
      const RunningService& s = svc[i].s;
      while (std::chrono::steady_clock::now() < until) {
        std::map<unsigned, int> seen;  // merged under the lock once per user
        auto created = ensure(s, unique_email("many"));
        ++seen[created.status];
        std::string user, initial;
        std::vector<std::string> names;
        if (created.status == 201) {
          user = str(body_json(created), "user_id");
          // Another instance answers each follow-up: no instance sees only its own users.
          const RunningService& other = svc[(i + 1) % kInstances].s;
          initial = str(account_of(other, user), "user_name");
          for (int k = 0; k < 2; ++k) {
            const std::string name =
                "Mi" + std::to_string(getpid() % 10000) + "_" + std::to_string(++name_seq);
            auto r = rename(k == 0 ? s : other, user, name);
            ++seen[r.status];
            if (r.status == 200) names.push_back(name);
          }
          auto sanction = cmd::apply(other, user, "game_join_block", cmd::from_now(1500ms));
          ++seen[sanction.status];
          if (sanction.status == 200) ++sanctions;
          ++seen[s.call("GET", kApi + "/users/" + user + "/eligibility").status];
        }
        std::lock_guard lock(mu);
        for (const auto& [status, n] : seen) statuses[status] += n;
        if (!user.empty()) {
          first_name[user] = initial;
          acked[user] = names;
        }
      }
    });
  }
  for (auto& t : clients) t.join();

  // Every sanction lapses within 1.5 s; eight sweepers every 200 ms expire each exactly once.
  ASSERT_TRUE(cmd::eventually(
      [&] { return cmd::count(svc[0].s, "SELECT count(*) FROM \"user\".sanction_active") == 0; },
      15s));
  std::this_thread::sleep_for(600ms);  // a few more sweeps by everyone: nothing twice
  stop.store(true);
  monitor.join();

  for (const auto& [status, n] : statuses) {
    EXPECT_TRUE(status == 200 || status == 201) << n << " answers with status " << status;
  }
  ASSERT_GT(acked.size(), 40u) << "too little load to prove anything";

  // Migrations: applied once in all, by whichever instance took the lock first.
  std::size_t applied = 0;
  for (auto& s : svc)
    applied += occurrences(s->process->stdout_text(), "applying database migration");
  EXPECT_EQ(static_cast<long>(applied),
            cmd::count(svc[0].s, "SELECT count(*) FROM \"user\".schema_migrations"));

  // One relay leader for the whole run: elected once, and the only one publishing now.
  std::size_t elected = 0;
  double leaders = 0;
  for (auto& s : svc) {
    elected += occurrences(s->process->stdout_text(), "outbox relay is the leader");
    leaders += gauge(s->admin_port, "outbox_relay_leader");
  }
  EXPECT_EQ(elected, 1u);
  EXPECT_EQ(leaders, 1.0);

  // Each expiry exactly once: one expire record and one expire event per applied sanction.
  EXPECT_EQ(
      cmd::count(svc[0].s, "SELECT count(*) FROM \"user\".sanction_records WHERE kind = 'expire'"),
      sanctions.load());
  EXPECT_EQ(
      cmd::count(svc[0].s, R"(SELECT count(*) FROM (SELECT user_id FROM "user".sanction_records
                                     WHERE kind = 'expire' GROUP BY 1 HAVING count(*) <> 1) x)"),
      0);
  ASSERT_TRUE(cmd::eventually(
      [&] { return cmd::count(svc[0].s, "SELECT count(*) FROM \"user\".event_outbox") == 0; },
      15s));
  const auto all = cmd::events(svc[0]);
  EXPECT_EQ(cmd::count_events(all, "user.sanction.changed", "expire"),
            static_cast<std::size_t>(sanctions.load()));

  // Per-user order: each user's renames, published once, in commit order.
  std::map<std::string, std::vector<cmd::Event>> per_user;
  for (const auto& e : all) per_user[str(e.payload, "user_id")].push_back(e);
  for (const auto& [user, names] : acked) {
    SCOPED_TRACE(user);
    expect_renames_in_order(per_user[user], first_name[user], names);
  }

  // Connections within the bound the settings give: kMaxOpen per pool plus one relay session
  // per instance.
  std::cout << "[ info     ] " << acked.size() << " users over " << kInstances
            << " instances; most PostgreSQL connections at once: " << most_connections.load()
            << " (bound " << kInstances * (kMaxOpen + 1) << ")\n";
  EXPECT_LE(most_connections.load(), kInstances * (kMaxOpen + 1));
  for (auto& s : svc) expect_alive(s.s);
}
