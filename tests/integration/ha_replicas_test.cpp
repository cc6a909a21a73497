// Replicas that help and degrade gracefully (docs/scaling.md), with real streaming standbys
// (pg_basebackup -R): the admin listing reads a standby while it is reachable and within
// USERSERVICE_POSTGRES_REPLICA_MAX_LAG, skips it when it lags or dies (the primary serves, no
// 503), uses it again once it caught up, and a walk pinned to a standby that dies continues
// on the primary without skipping or repeating a row.
#include <algorithm>
#include <set>
#include <thread>

#include "integration/account_helpers.h"
#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string kUsers = kApi + "/admin/users";

struct Page {
  std::vector<std::string> ids;
  std::optional<std::string> next;
};

Page list_page(const RunningService& s, int size, const std::optional<std::string>& token = {}) {
  auto r = s.call("GET", kUsers + "?page_size=" + std::to_string(size) +
                             (token ? "&page_token=" + pct(*token) : ""));
  Page p;
  auto v = expect_json(r, 200);
  if (r.status != 200) return p;
  for (const auto& item : field(v, "items").as_array())
    p.ids.push_back(str(field(item, "account"), "user_id"));
  if (field(v, "next_page_token").is_string())
    p.next = std::string(field(v, "next_page_token").as_string());
  return p;
}

std::vector<std::string> listed(const RunningService& s) { return list_page(s, 200).ids; }

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A sample "name{labels} value" of the scrape; -1 when absent.
double sample(const RunningService& s, const std::string& series) {
  const std::string text = http(s.admin_port, "GET", "/metrics").body;
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

const std::string kUsable = "userservice_postgres_replica_usable{pool=\"replica-1\"}";
const std::string kFallbacks = "userservice_postgres_replica_fallbacks_total{pool=\"replica-1\"}";

struct Cluster {
  PgServer primary;
  std::string db = "replicated";
  std::unique_ptr<PgServer> standby;
  Cluster() {
    primary.query(primary.dsn(), "CREATE DATABASE " + db);
    standby = std::make_unique<PgServer>(PgServerOptions{"", &primary});
  }
};

// The service on the cluster's primary with its standby as the one replica.
RunningService start_on(const Cluster& c, const std::string& max_lag,
                        std::map<std::string, std::string> extra = {}) {
  extra["USERSERVICE_POSTGRES_REPLICA_DSNS"] = c.standby->dsn(c.db);
  extra["USERSERVICE_POSTGRES_REPLICA_MAX_LAG"] = max_lag;
  extra["USERSERVICE_ADMIN_HTTP_ADDR"] = "auto";
  return start_service(extra, c.primary.dsn(c.db));
}

std::string looked_up_name(const RunningService& s, const std::string& user_id) {
  auto r = s.call("GET", kApi + "/admin/users/" + user_id);
  auto v = expect_json(r, 200);
  return r.status == 200 ? str(field(v, "account"), "user_name")
                         : "<" + std::to_string(r.status) + ">";
}

std::size_t sanction_records(const RunningService& s, const std::string& user_id) {
  auto r = userservice::testing::cmd::history(s, user_id, "sanctions");
  auto v = expect_json(r, 200);
  return r.status == 200 ? field(v, "items").as_array().size() : 0;
}

// A user name unique within the test process.
std::string fresh_name_for_replicas() {
  static std::atomic<int> n{0};
  return "Rp" + std::to_string(getpid() % 100000) + "_" + std::to_string(++n);
}

}  // namespace

TEST(Replicas, ALaggingStandbyIsSkippedAndReadAgainOnceItCaughtUp) {
  Cluster c;
  auto s = start_on(c, "2s");
  ASSERT_TRUE(s.process->running());
  ASSERT_TRUE(eventually([&] { return sample(s, kUsable) == 1; }, 5s)) << s.process->stdout_text();
  const auto first = create_account(s).user_id;
  ASSERT_TRUE(c.standby->wait_caught_up(c.primary, 10s));
  EXPECT_TRUE(contains(listed(s), first));

  // Replay stops: the standby keeps answering, with what it had. Read from it, the listing
  // does not show an account created now: proof that it reads the standby.
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_pause()");
  const auto second = create_account(s).user_id;
  EXPECT_FALSE(contains(listed(s), second)) << "the listing did not read the standby";

  // Past the lag bound it is skipped: the primary answers, and shows the new account.
  ASSERT_TRUE(eventually([&] { return sample(s, kUsable) == 0; }, 6s));
  EXPECT_TRUE(contains(listed(s), second));
  EXPECT_NE(s.process->stdout_text().find("postgres replica skipped"), std::string::npos);
  EXPECT_GT(sample(s, "userservice_postgres_replica_lag_seconds{pool=\"replica-1\"}"), 2.0);

  // Replay resumes: caught up, the standby is read again.
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_resume()");
  ASSERT_TRUE(eventually([&] { return sample(s, kUsable) == 1; }, 5s));
  EXPECT_TRUE(contains(listed(s), second));
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_pause()");
  const auto third = create_account(s).user_id;
  EXPECT_FALSE(contains(listed(s), third)) << "the caught-up standby was not read again";
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_resume()");
  expect_alive(s);
}

TEST(Replicas, AStandbyThatDiesMidWalkCostsNo503AndTheWalkGoesOnOnThePrimary) {
  Cluster c;
  auto s = start_on(c, "1m");
  ASSERT_TRUE(eventually([&] { return sample(s, kUsable) == 1; }, 5s));
  std::vector<std::string> older;
  for (int i = 0; i < 18; ++i) older.push_back(create_account(s).user_id);
  std::reverse(older.begin(), older.end());  // the listing's order: newest first
  ASSERT_TRUE(c.standby->wait_caught_up(c.primary, 10s));
  // Two accounts the standby will not have: the walk's first page shows it read the standby.
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_pause()");
  const auto newer1 = create_account(s).user_id, newer2 = create_account(s).user_id;

  Page p = list_page(s, 6);
  ASSERT_EQ(p.ids, std::vector<std::string>(older.begin(), older.begin() + 6));
  ASSERT_TRUE(p.next);

  // The standby dies. The rest of the walk comes from the primary, right after the last row
  // served: no 503, no row skipped, none repeated. (The two newer accounts sort before the
  // walk's position, so this walk never shows them: it lists the view it started with.)
  c.standby->crash();
  std::vector<std::string> walk = p.ids;
  for (std::optional<std::string> t = p.next; t;) {
    Page next = list_page(s, 6, t);
    ASSERT_FALSE(next.ids.empty() && next.next) << "an empty page that is not the last";
    walk.insert(walk.end(), next.ids.begin(), next.ids.end());
    t = next.next;
  }
  EXPECT_EQ(walk, older);
  EXPECT_GE(sample(s, kFallbacks), 1);

  // New walks go to the primary at once, and the probe takes the dead standby out.
  const auto now_listed = listed(s);
  EXPECT_TRUE(contains(now_listed, newer1) && contains(now_listed, newer2));
  EXPECT_TRUE(eventually([&] { return sample(s, kUsable) == 0; }, 5s));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(listed(s).size(), 20u);
  expect_alive(s);
}

// USERSERVICE_POSTGRES_REPLICA_READS: lookups and history's first pages read the standby when
// asked to (they show what it has replayed), the primary otherwise; a standby that dies costs
// no 503.
TEST(Replicas, LookupsAndHistoryReadTheStandbyOnlyWhenTheSettingSaysSo) {
  Cluster c;
  auto s = start_on(c, "1m", {{"USERSERVICE_POSTGRES_REPLICA_READS", "lookups,history"}});
  auto primary_only = start_on(c, "1m");  // the default: listing only
  ASSERT_TRUE(eventually([&] { return sample(s, kUsable) == 1; }, 5s));
  const auto a = create_account(s).user_id;
  const std::string before = fresh_name_for_replicas();
  ASSERT_EQ(rename(s, a, before).status, 200);
  ASSERT_EQ(userservice::testing::cmd::apply(s, a, "game_join_block").status, 200);
  ASSERT_TRUE(c.standby->wait_caught_up(c.primary, 10s));
  EXPECT_EQ(looked_up_name(s, a), before);

  // Replay paused: what the standby shows is the old state.
  c.standby->query(c.standby->dsn(), "SELECT pg_wal_replay_pause()");
  const std::string after = fresh_name_for_replicas();
  ASSERT_EQ(rename(s, a, after).status, 200);
  ASSERT_EQ(userservice::testing::cmd::apply(s, a, "login_block").status, 200);
  EXPECT_EQ(looked_up_name(s, a), before) << "the lookup did not read the standby";
  EXPECT_EQ(sanction_records(s, a), 1u) << "the history did not read the standby";
  // The account view (not an admin lookup) and the default setting read the primary.
  EXPECT_EQ(str(account_of(s, a), "user_name"), after);
  EXPECT_EQ(looked_up_name(primary_only, a), after);
  EXPECT_EQ(sanction_records(primary_only, a), 2u);

  // The standby dies: the same reads come from the primary, no 503.
  c.standby->crash();
  EXPECT_EQ(looked_up_name(s, a), after);
  EXPECT_EQ(sanction_records(s, a), 2u);
  EXPECT_GE(sample(s, kFallbacks), 1);
  expect_alive(s);
}
