// Expiry (api.md §4, §9). Reads are correct at the moment of the read before any
// sweep; a command on a lapsed item expires it first; the sweeper repairs the stored state,
// writes one `expire` record and its events per expiry — also with three instances sweeping
// one database, with commands racing it, and across a PostgreSQL restart.
#include <csignal>
#include <iostream>
#include <random>
#include <thread>

#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::cmd;
using acct::create_account;
using acct::expect_error;
using acct::expect_json;
using acct::field;
using acct::json_str;
using acct::same_json;
using acct::sql_literal;
using acct::str;
namespace json = boost::json;

namespace {

const json::object kSweeperActor{{"type", "system"}, {"id", "expiry-sweeper"}};

void sleep_until(const std::string& rfc3339, std::chrono::milliseconds margin) {
  auto at = parse_ts(rfc3339);
  ASSERT_TRUE(at);
  std::this_thread::sleep_until(*at + margin);
}

long stored(const RunningService& s, const std::string& table, const std::string& user_id) {
  return count(
      s, "SELECT count(*) FROM \"user\"." + table + " WHERE user_id = " + sql_literal(user_id));
}

bool stored_is_paid(const RunningService& s, const std::string& user_id) {
  return s.sql("SELECT is_paid FROM \"user\".entitlement_snapshots WHERE user_id = " +
               sql_literal(user_id))
             .at(0)
             .at(0) == "t";
}

long expire_records(const RunningService& s, const std::string& table,
                    const std::string& user_id = "") {
  return count(s, "SELECT count(*) FROM \"user\"." + table + " WHERE kind = 'expire'" +
                      (user_id.empty() ? "" : " AND user_id = " + sql_literal(user_id)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Read time

TEST(Expiry, ExpiredItemsAreGoneFromEveryReadBeforeTheSweeperRuns) {
  auto svc = start("1h");  // the sweeper ran once at start and sleeps for the rest of the test
  auto a = create_account(svc.s);
  const std::string end = from_now(1000ms);
  ASSERT_EQ(apply(svc.s, a.user_id, "login_block", end).status, 200u);
  ASSERT_EQ(apply(svc.s, a.user_id, "game_join_block", end).status, 200u);
  ASSERT_EQ(set_limit(svc.s, a.user_id, "max_owned_private_games", 4, end).status, 200u);
  auto g = expect_json(grant(svc.s, a.user_id, "paid_monthly", end), 200);
  EXPECT_EQ(field(g, "active_sanctions").as_array().size(), 2u);
  EXPECT_EQ(str(expect_json(acct::resolve(svc.s, a.email), 200), "kind"), "blocked");

  sleep_until(end, 300ms);
  const std::string uid = a.user_id;

  auto view = expect_json(acct::get_account(svc.s, uid), 200);
  EXPECT_TRUE(field(view, "active_sanctions").as_array().empty()) << json_str(view);
  EXPECT_TRUE(field(view, "active_limits").as_array().empty());
  EXPECT_EQ(str(field(view, "entitlement"), "plan_code"), "free");
  EXPECT_EQ(field(field(view, "entitlement"), "is_paid"), json::value(false));
  EXPECT_EQ(str(field(view, "entitlement"), "starts_at"), end);  // free from the old end on
  EXPECT_TRUE(field(field(view, "entitlement"), "ends_at").is_null());
  EXPECT_TRUE(same_json(field(view, "effective_limits"), acct::free_limits()));

  auto elig = expect_json(svc->call("GET", acct::kApi + "/users/" + uid + "/eligibility"), 200);
  EXPECT_EQ(field(elig, "can_login"), json::value(true));
  EXPECT_EQ(field(elig, "can_join_games"), json::value(true));
  EXPECT_EQ(str(elig, "plan_code"), "free");
  EXPECT_TRUE(field(elig, "active_sanction_codes").as_array().empty());
  EXPECT_TRUE(same_json(field(elig, "effective_limits"), acct::free_limits()));

  auto batch = expect_json(
      acct::post_json(svc.s, "/users/eligibility:batch", {{"user_ids", json::array{uid}}}), 200);
  ASSERT_EQ(field(batch, "items").as_array().size(), 1u);
  EXPECT_TRUE(same_json(field(batch, "items").as_array()[0], elig));

  EXPECT_EQ(str(expect_json(acct::resolve(svc.s, a.email), 200), "kind"), "existing");
  auto lookup = expect_json(svc->call("GET", acct::kApi + "/admin/users/" + uid), 200);
  EXPECT_TRUE(field(lookup, "active_sanctions").as_array().empty());
  EXPECT_EQ(str(field(lookup, "entitlement"), "plan_code"), "free");

  // Nothing has been repaired yet: the stored rows are all still there.
  EXPECT_EQ(stored(svc.s, "sanction_active", uid), 2);
  EXPECT_EQ(stored(svc.s, "limit_active", uid), 1);
  EXPECT_TRUE(stored_is_paid(svc.s, uid));
  EXPECT_EQ(expire_records(svc.s, "sanction_records", uid), 0);
  EXPECT_EQ(count_events(events(svc, uid), "user.sanction.changed", "expire"), 0u);
}

TEST(Expiry, ACommandOnALapsedItemRecordsItsExpiryFirst) {
  auto svc = start("1h");
  auto id = create_account(svc.s).user_id;
  const std::string end = from_now(1000ms);
  ASSERT_EQ(apply(svc.s, id, "game_join_block", end).status, 200u);
  ASSERT_EQ(apply(svc.s, id, "login_block", end).status, 200u);
  ASSERT_EQ(set_limit(svc.s, id, "max_owned_private_games", 4, end).status, 200u);
  ASSERT_EQ(grant(svc.s, id, "paid_monthly", end).status, 200u);
  sleep_until(end, 200ms);

  // remove of a lapsed sanction: 409 (it is not active), and its expiry is now on record.
  expect_error(remove_sanction(svc.s, id, "game_join_block"), 409, "conflict");
  auto items = all_history(svc.s, id, "sanctions");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(str(items[0], "kind"), "expire");
  EXPECT_EQ(str(items[0], "sanction_code"), "game_join_block");
  EXPECT_EQ(str(items[0], "expires_at"), end);
  EXPECT_EQ(str(items[0], "reason_code"), "expired");
  EXPECT_TRUE(same_json(field(items[0], "actor"), kSweeperActor));

  // extend of a lapsed monthly: it reads as free, so 409; the snapshot is repaired.
  expect_error(extend(svc.s, id, from_now(24h)), 409, "conflict");
  EXPECT_EQ(record_kinds(svc.s, "entitlement_records", id),
            (std::vector<std::string>{"grant", "expire"}));
  EXPECT_FALSE(stored_is_paid(svc.s, id));
  auto snap = svc->sql(
      "SELECT plan_code, \"user\".rfc3339(starts_at), ends_at, source FROM "
      "\"user\".entitlement_snapshots WHERE user_id = " +
      sql_literal(id));
  EXPECT_EQ(snap.at(0), (std::vector<std::string>{"free", end, "<null>", "<null>"}));

  // set over a lapsed override: expire, then set.
  ASSERT_EQ(set_limit(svc.s, id, "max_owned_private_games", 2).status, 200u);
  EXPECT_EQ(record_kinds(svc.s, "limit_records", id),
            (std::vector<std::string>{"set", "expire", "set"}));

  // apply over a lapsed login_block: the unblock (expire) goes out before the new block.
  ASSERT_EQ(apply(svc.s, id, "login_block").status, 200u);
  EXPECT_EQ(record_kinds(svc.s, "sanction_records", id),
            (std::vector<std::string>{"apply", "apply", "expire", "expire", "apply"}));
  auto lifecycle = events(svc, id);
  std::vector<std::string> login_events;
  for (const auto& e : lifecycle) {
    if (e.stream == "lifecycle" && e.event_type != "user.created") {
      login_events.push_back(e.event_type + ":" + str(e.payload, "kind"));
    }
  }
  EXPECT_EQ(login_events,
            (std::vector<std::string>{"user.login_blocked:apply", "user.login_unblocked:expire",
                                      "user.login_blocked:apply"}));
  auto all = events(svc, id);
  EXPECT_EQ(count_events(all, "user.sanction.changed", "expire"), 2u);
  EXPECT_EQ(count_events(all, "user.entitlement.changed", "expire"), 1u);
  EXPECT_EQ(count_events(all, "user.limit.changed", "expire"), 1u);
}

// ---------------------------------------------------------------------------------------------
// The sweeper

TEST(Expiry, TheSweeperRepairsStoredStateOnceWithRecordsAndEvents) {
  auto svc = start("200ms");
  auto a = create_account(svc.s);
  const std::string id = a.user_id;
  const std::string end = from_now(1000ms);
  ASSERT_EQ(apply(svc.s, id, "login_block", end, "fraud").status, 200u);
  ASSERT_EQ(apply(svc.s, id, "game_join_block").status, 200u);  // permanent: stays
  ASSERT_EQ(set_limit(svc.s, id, "max_active_game_memberships", 9, end).status, 200u);
  auto g = expect_json(grant(svc.s, id, "paid_yearly", end, from_now(-24h)), 200);

  ASSERT_TRUE(eventually(
      [&] {
        return stored(svc.s, "limit_active", id) == 0 &&
               stored(svc.s, "sanction_active", id) == 1 && !stored_is_paid(svc.s, id);
      },
      4s))
      << "the sweeper did not repair the stored state";
  auto code = svc->sql("SELECT sanction_code FROM \"user\".sanction_active WHERE user_id = " +
                       sql_literal(id));
  EXPECT_EQ(code.at(0).at(0), "game_join_block");
  auto snap = svc->sql(
      "SELECT plan_code, \"user\".rfc3339(starts_at), ends_at, source FROM "
      "\"user\".entitlement_snapshots WHERE user_id = " +
      sql_literal(id));
  EXPECT_EQ(snap.at(0), (std::vector<std::string>{"free", end, "<null>", "<null>"}));

  // History, through the API.
  auto s = all_history(svc.s, id, "sanctions");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(str(s[0], "kind"), "expire");
  EXPECT_EQ(str(s[0], "sanction_code"), "login_block");
  EXPECT_EQ(str(s[0], "expires_at"), end);
  EXPECT_EQ(str(s[0], "reason_code"), "expired");
  EXPECT_TRUE(same_json(field(s[0], "actor"), kSweeperActor));
  auto e = all_history(svc.s, id, "entitlements");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(str(e[0], "kind"), "expire");
  EXPECT_EQ(str(e[0], "plan_code"), "free");
  EXPECT_EQ(str(e[0], "starts_at"), end);
  EXPECT_TRUE(field(e[0], "ends_at").is_null());
  auto l = all_history(svc.s, id, "limits");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(str(l[0], "kind"), "expire");
  EXPECT_EQ(str(l[0], "limit_code"), "max_active_game_memberships");
  EXPECT_TRUE(field(l[0], "value").is_null());

  // Events.
  auto all = events(svc, id);
  auto find = [&](std::string_view type, std::string_view kind) -> const Event* {
    for (const auto& ev : all) {
      if (ev.event_type == type && str(ev.payload, "kind") == kind) return &ev;
    }
    return nullptr;
  };
  const Event* sanction = find("user.sanction.changed", "expire");
  ASSERT_TRUE(sanction);
  EXPECT_EQ(str(sanction->payload, "sanction_code"), "login_block");
  EXPECT_EQ(field(sanction->payload, "active"), json::value(false));
  EXPECT_EQ(str(sanction->payload, "expires_at"), end);
  EXPECT_TRUE(same_json(field(sanction->payload, "actor"), kSweeperActor));
  EXPECT_EQ(sanction->trace_id, "");  // caused by time, not by a request
  const Event* unblocked = find("user.login_unblocked", "expire");
  ASSERT_TRUE(unblocked);
  EXPECT_EQ(unblocked->stream, "lifecycle");
  const Event* ent = find("user.entitlement.changed", "expire");
  ASSERT_TRUE(ent);
  EXPECT_EQ(str(ent->payload, "plan_code"), "free");
  EXPECT_EQ(str(field(ent->payload, "previous"), "plan_code"), "paid_yearly");
  EXPECT_EQ(str(field(ent->payload, "previous"), "ends_at"), end);
  EXPECT_EQ(str(field(ent->payload, "previous"), "starts_at"),
            str(field(g, "entitlement"), "starts_at"));
  const Event* limit = find("user.limit.changed", "expire");
  ASSERT_TRUE(limit);
  EXPECT_TRUE(field(limit->payload, "value").is_null());

  // Exactly once: more sweeps change nothing.
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(expire_records(svc.s, "sanction_records", id), 1);
  EXPECT_EQ(expire_records(svc.s, "entitlement_records", id), 1);
  EXPECT_EQ(expire_records(svc.s, "limit_records", id), 1);
  all = events(svc, id);
  EXPECT_EQ(count_events(all, "user.sanction.changed", "expire"), 1u);
  EXPECT_EQ(count_events(all, "user.login_unblocked", "expire"), 1u);
  EXPECT_EQ(count_events(all, "user.entitlement.changed", "expire"), 1u);
  EXPECT_EQ(count_events(all, "user.limit.changed", "expire"), 1u);
  EXPECT_NE(svc->process->stdout_text().find("\"expired\""), std::string::npos);
}

TEST(Expiry, ThreeInstancesSweepingOneDatabaseExpireEachItemExactlyOnce) {
  auto first = start("200ms");
  auto second = start("200ms", {}, first->dsn, &first.streams);
  auto third = start("200ms", {}, first->dsn, &first.streams);
  constexpr int kUsers = 1000;
  // Seeded with SQL in one transaction so that everything lapses at the same instant, 1.5 s
  // from now, while three sweepers poll every 200 ms: 4,000 items in batches of 100 keep the
  // sweepers busy long enough to overlap and contend (SKIP LOCKED) for the same rows.
  const std::string prefix = "user-sweep" + std::to_string(getpid() % 100000) + "-";
  first->sql(R"(
    CREATE TEMP TABLE ids AS
      SELECT ')" +
             prefix + R"(' || i AS user_id, i FROM generate_series(1, )" + std::to_string(kUsers) +
             R"() i;
    INSERT INTO "user".accounts (user_id, email, user_name)
      SELECT user_id, 'sweep' || i || '@sweep.example.com', 'Sweep_' || i FROM ids;
    INSERT INTO "user".entitlement_snapshots (user_id, plan_code, is_paid, starts_at, ends_at,
                                              source)
      SELECT user_id, 'paid_monthly', true, now() - interval '1 day',
             now() + interval '1500 milliseconds', 'billing' FROM ids;
    INSERT INTO "user".sanction_active (user_id, sanction_code, reason_code, actor_type,
                                        actor_id, applied_at, expires_at)
      SELECT user_id, c, 'seeded', 'admin', 'tests', now(), now() + interval '1500 milliseconds'
        FROM ids, unnest(ARRAY['login_block', 'game_join_block']) c;
    INSERT INTO "user".limit_active (user_id, limit_code, value, reason_code, actor_type,
                                     actor_id, applied_at, expires_at)
      SELECT user_id, 'max_owned_private_games', 7, 'seeded', 'admin', 'tests', now(),
             now() + interval '1500 milliseconds' FROM ids;)");

  ASSERT_TRUE(eventually(
      [&] {
        return count(first.s,
                     "SELECT (SELECT count(*) FROM \"user\".sanction_active) + "
                     "(SELECT count(*) FROM \"user\".limit_active) + "
                     "(SELECT count(*) FROM \"user\".entitlement_snapshots "
                     "  WHERE is_paid)") == 0;
      },
      10s))
      << "the sweepers did not finish";
  std::this_thread::sleep_for(500ms);  // more sweeps by everyone: still nothing twice

  EXPECT_EQ(expire_records(first.s, "entitlement_records"), kUsers);
  EXPECT_EQ(expire_records(first.s, "sanction_records"), 2 * kUsers);
  EXPECT_EQ(expire_records(first.s, "limit_records"), kUsers);
  EXPECT_EQ(count(first.s, R"(SELECT count(*) FROM (SELECT user_id, sanction_code
                                FROM "user".sanction_records WHERE kind = 'expire'
                               GROUP BY 1, 2 HAVING count(*) <> 1) x)"),
            0);
  EXPECT_EQ(count(first.s, R"(SELECT count(DISTINCT user_id) FROM "user".entitlement_records
                               WHERE kind = 'expire')"),
            kUsers);
  // Every snapshot became free from the moment its paid period ended.
  EXPECT_EQ(count(first.s, R"(SELECT count(*) FROM "user".entitlement_snapshots s
                                JOIN "user".entitlement_records r USING (user_id)
                               WHERE r.kind = 'expire' AND s.plan_code = 'free'
                                 AND s.starts_at = r.starts_at AND s.ends_at IS NULL)"),
            kUsers);

  auto all = events(first);
  EXPECT_EQ(count_events(all, "user.entitlement.changed", "expire"),
            static_cast<std::size_t>(kUsers));
  EXPECT_EQ(count_events(all, "user.sanction.changed", "expire"),
            static_cast<std::size_t>(2 * kUsers));
  EXPECT_EQ(count_events(all, "user.login_unblocked", "expire"), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(count_events(all, "user.limit.changed", "expire"), static_cast<std::size_t>(kUsers));

  int sweeping = 0;
  for (Service* svc : {&first, &second, &third}) {
    sweeping += svc->s.process->stdout_text().find("\"expired\"") != std::string::npos;
    acct::expect_alive(svc->s);
  }
  std::cout << "[ info     ] instances that expired something: " << sweeping << " of 3\n";
  EXPECT_GE(sweeping, 2) << "the sweepers never overlapped: the test proves less than it should";
}

// A command re-applying a sanction around its expiry while the sweeper polls every 50 ms:
// whoever wins, the history explains the state — every expire closes the apply right before
// it, after that apply's end; every replaced apply was still active when replaced.
TEST(Expiry, ReapplyRacingTheSweeperLeavesAnExplainableHistory) {
  auto svc = start("50ms");
  auto id = create_account(svc.s).user_id;
  std::mt19937 rng(12345);
  const auto stop_at = std::chrono::steady_clock::now() + 2s;
  int applied = 0;
  while (std::chrono::steady_clock::now() < stop_at) {
    auto r = apply(svc.s, id, "login_block", from_now(std::chrono::milliseconds(40 + rng() % 120)));
    ASSERT_EQ(r.status, 200u) << r.body;
    ++applied;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
  }
  ASSERT_TRUE(eventually([&] { return stored(svc.s, "sanction_active", id) == 0; }, 3s));
  auto rows = svc->sql(
      "SELECT kind, \"user\".epoch_us(expires_at), \"user\".epoch_us(recorded_at) "
      "FROM \"user\".sanction_records WHERE user_id = " +
      sql_literal(id) + " ORDER BY record_id");
  int applies = 0, expires = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i));
    const auto& r = rows[i];
    if (r[0] == "apply") {
      ++applies;
      if (i + 1 < rows.size() && rows[i + 1][0] == "apply") {
        // Replaced while still active.
        EXPECT_GT(std::stoll(r[1]), std::stoll(rows[i + 1][2]));
      }
    } else {
      ASSERT_EQ(r[0], "expire");
      ++expires;
      ASSERT_GT(i, 0u);
      EXPECT_EQ(rows[i - 1][0], "apply");             // closes exactly one apply
      EXPECT_EQ(r[1], rows[i - 1][1]);                // ... the one right before it
      EXPECT_GE(std::stoll(r[2]), std::stoll(r[1]));  // ... after its end
    }
  }
  EXPECT_EQ(applies, applied);
  EXPECT_EQ(rows.back()[0], "expire");
  auto all = events(svc, id);
  EXPECT_EQ(count_events(all, "user.sanction.changed"), rows.size());
  EXPECT_EQ(count_events(all, "user.login_blocked"), static_cast<std::size_t>(applies));
  EXPECT_EQ(count_events(all, "user.login_unblocked"), static_cast<std::size_t>(expires));
  std::cout << "[ info     ] " << applies << " applies, " << expires << " expiries\n";
}

TEST(Expiry, TheSweeperKeepsWorkingAfterADatabaseRestart) {
  PgServer pg;  // private: this test stops it
  auto svc =
      start("200ms", {{"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "1s"}}, pg.create_database());
  auto id = create_account(svc.s).user_id;
  pg.stop();
  std::this_thread::sleep_for(800ms);  // several failing ticks
  pg.start();
  ASSERT_TRUE(eventually(
      [&] { return svc->call("GET", acct::kApi + "/users/" + id + "/exists").status == 200; }, 5s));
  ASSERT_EQ(apply(svc.s, id, "game_join_block", from_now(500ms)).status, 200u);
  EXPECT_TRUE(eventually([&] { return stored(svc.s, "sanction_active", id) == 0; }, 4s))
      << "no sweep after the restart";
  EXPECT_EQ(expire_records(svc.s, "sanction_records", id), 1);
  EXPECT_TRUE(svc->process->running());
  EXPECT_NE(svc->process->stdout_text().find("expiry sweep failed"), std::string::npos);
}

TEST(Expiry, ShutdownCancelsASweepStuckBehindALock) {
  auto svc = start("100ms", {{"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "20s"},
                             {"USERSERVICE_SHUTDOWN_TIMEOUT", "1s"}});
  std::thread locker([&] {
    svc->sql(R"(BEGIN; LOCK TABLE "user".sanction_active IN ACCESS EXCLUSIVE MODE;
                SELECT pg_sleep(5); COMMIT;)");
  });
  std::this_thread::sleep_for(600ms);  // the next sweep is now waiting for the table lock
  const auto t0 = std::chrono::steady_clock::now();
  svc->process->signal(SIGTERM);
  auto code = svc->process->wait_exit(10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  locker.join();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << svc->process->stdout_text();
  EXPECT_LT(took, 3s);
  EXPECT_NE(svc->process->stdout_text().find("expiry sweeper stopped"), std::string::npos);
}
