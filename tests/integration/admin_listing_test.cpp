// The admin listing (api.md §8 "Listing"): every filter and combinations, effective
// state (expired-but-unswept items do not match), soft-deleted accounts, keyset pages with
// ties and with concurrent inserts, page tokens bound to the filter set, bad parameters, and
// routing to USERSERVICE_POSTGRES_REPLICA_DSNS.
//
// Tests of one suite share one service and database; each test looks only at accounts
// created after its own start (created_after=<test start>), or at accounts it moved into a
// window of its own in 2001 (created_at set by SQL where exact instants matter: ties).
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "adapters/postgres/statements.h"
#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace std::chrono_literals;
using acct::create_account;
using acct::expect_error;
using acct::expect_json;
using acct::field;
using acct::pct;
using acct::sql_literal;
using acct::str;
namespace json = boost::json;

namespace {

const std::string kUsers = acct::kApi + "/admin/users";

using Query = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=2", values percent-encoded.
std::string query_string(const Query& q) {
  std::string out;
  for (const auto& [k, v] : q) out += (out.empty() ? "" : "&") + k + "=" + pct(v);
  return out;
}

HttpResponse list_raw(const RunningService& s, const std::string& query) {
  return s.call("GET", kUsers + (query.empty() ? "" : "?" + query));
}

struct Page {
  std::vector<json::value> items;
  std::optional<std::string> next;
};

Page page(const RunningService& s, const Query& q) {
  auto r = list_raw(s, query_string(q));
  auto v = expect_json(r, 200);
  Page p;
  if (r.status != 200) return p;
  EXPECT_EQ(v.as_object().size(), 2u) << r.body;
  for (const auto& item : field(v, "items").as_array()) p.items.push_back(item);
  const auto& next = field(v, "next_page_token");
  if (next.is_string()) p.next = std::string(next.as_string());
  EXPECT_TRUE(next.is_string() || next.is_null()) << r.body;
  return p;
}

std::string user_id_of(const json::value& item) { return str(field(item, "account"), "user_id"); }

std::vector<std::string> ids(const std::vector<json::value>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(user_id_of(i));
  return out;
}

// Every page of a walk, following next_page_token.
std::vector<json::value> walk(const RunningService& s, Query q, int page_size,
                              int* pages = nullptr) {
  std::vector<json::value> out;
  q.emplace_back("page_size", std::to_string(page_size));
  std::optional<std::string> token;
  int n = 0;
  for (; n < 10000; ++n) {
    Query qq = q;
    if (token) qq.emplace_back("page_token", *token);
    Page p = page(s, qq);
    EXPECT_LE(p.items.size(), static_cast<std::size_t>(page_size));
    if (p.next) {
      EXPECT_EQ(p.items.size(), static_cast<std::size_t>(page_size));
    }
    out.insert(out.end(), p.items.begin(), p.items.end());
    if (!p.next) break;
    token = p.next;
  }
  if (pages) *pages = n + 1;
  return out;
}

std::vector<std::string> walk_ids(const RunningService& s, const Query& q, int page_size = 2) {
  return ids(walk(s, q, page_size));
}

// The lower bound that isolates a test's accounts: later than every account an earlier test
// created (those requests had finished), not later than this test's first one.
std::string test_start() {
  std::this_thread::sleep_for(3ms);
  return cmd::ts(std::chrono::system_clock::now());
}

std::vector<std::string> reversed(std::vector<std::string> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

void set_country(const RunningService& s, const std::string& user_id, const std::string& c) {
  auto r = s.call("PUT", acct::kApi + "/users/" + user_id + "/declared-country",
                  acct::json_str({{"declared_country", c}}));
  EXPECT_EQ(r.status, 200u) << r.body;
}

void expect_ok(const HttpResponse& r) { EXPECT_EQ(r.status, 200u) << r.body; }

class AdminListing : public ::testing::Test {
 protected:
  // The sweeper runs once at start, before any test wrote: lapsed items stay unswept.
  static void SetUpTestSuite() { service_ = new cmd::Service(cmd::start("1h")); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { acct::expect_alive(service_->s); }
  static const RunningService& svc() { return service_->s; }
  static cmd::Service* service_;
};
cmd::Service* AdminListing::service_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Shape

TEST_F(AdminListing, ItemsAreTheAccountWithEntitlementSummaryAndActiveCodesNewestFirst) {
  const std::string since = test_start();
  auto a = create_account(svc());
  auto b = create_account(svc());
  auto c = create_account(svc());
  set_country(svc(), b.user_id, "DE");
  expect_ok(cmd::apply(svc(), c.user_id, "login_block"));
  expect_ok(cmd::apply(svc(), c.user_id, "game_join_block", cmd::from_now(1h)));
  expect_ok(cmd::set_limit(svc(), c.user_id, "max_owned_private_games", 4));

  auto r = list_raw(svc(), "created_after=" + pct(since));
  auto v = expect_json(r, 200);
  ASSERT_TRUE(field(v, "items").is_array()) << r.body;
  EXPECT_TRUE(field(v, "next_page_token").is_null());
  const auto& items = field(v, "items").as_array();
  ASSERT_EQ(items.size(), 3u) << r.body;
  EXPECT_EQ(ids({items.begin(), items.end()}),
            (std::vector<std::string>{c.user_id, b.user_id, a.user_id}));

  for (const auto& item : items) {
    SCOPED_TRACE(acct::json_str(item));
    ASSERT_TRUE(item.is_object());
    std::set<std::string> keys;
    for (const auto& kv : item.as_object()) keys.insert(std::string(kv.key()));
    EXPECT_EQ(keys, (std::set<std::string>{"account", "deleted_at", "entitlement",
                                           "active_sanction_codes", "active_limit_codes"}));
    // The account object and the entitlement are those of the admin lookup view.
    auto lookup = expect_json(svc().call("GET", kUsers + "/" + user_id_of(item)), 200);
    EXPECT_TRUE(acct::same_json(field(item, "account"), field(lookup, "account")));
    EXPECT_TRUE(acct::same_json(field(item, "entitlement"), field(lookup, "entitlement")));
    EXPECT_TRUE(field(item, "deleted_at").is_null());
  }
  EXPECT_EQ(str(field(items[1], "account"), "declared_country"), "DE");
  EXPECT_EQ(str(field(items[0], "entitlement"), "plan_code"), "free");
  EXPECT_EQ(field(field(items[0], "entitlement"), "is_paid"), json::value(false));
  EXPECT_EQ(acct::json_str(field(items[0], "active_sanction_codes")),
            R"(["game_join_block","login_block"])");
  EXPECT_EQ(acct::json_str(field(items[0], "active_limit_codes")),
            R"(["max_owned_private_games"])");
  EXPECT_EQ(acct::json_str(field(items[2], "active_sanction_codes")), "[]");
  EXPECT_EQ(acct::json_str(field(items[2], "active_limit_codes")), "[]");
}

TEST_F(AdminListing, DefaultPageSizeIsFiftyAndTheMaximumTwoHundred) {
  const std::string since = test_start();
  for (int i = 0; i < 51; ++i) create_account(svc());
  Page p = page(svc(), {{"created_after", since}});
  EXPECT_EQ(p.items.size(), 50u);
  ASSERT_TRUE(p.next);
  Page rest = page(svc(), {{"created_after", since}, {"page_token", *p.next}});
  EXPECT_EQ(rest.items.size(), 1u);
  EXPECT_FALSE(rest.next);
  Page all = page(svc(), {{"created_after", since}, {"page_size", "200"}});
  EXPECT_EQ(all.items.size(), 51u);
  EXPECT_FALSE(all.next);
}

// ---------------------------------------------------------------------------------------------
// Filters

TEST_F(AdminListing, EveryFilterAloneAndCombined) {
  const std::string since = test_start();
  const auto free1 = create_account(svc()).user_id;
  const auto free2 = create_account(svc()).user_id;
  const auto monthly = create_account(svc()).user_id;
  const auto yearly = create_account(svc()).user_id;
  const auto lifetime = create_account(svc()).user_id;
  const auto sanctioned = create_account(svc()).user_id;
  const auto limited = create_account(svc()).user_id;
  const auto deleted = create_account(svc()).user_id;
  set_country(svc(), free1, "DE");
  set_country(svc(), monthly, "FR");
  set_country(svc(), yearly, "DE");
  set_country(svc(), deleted, "DE");
  expect_ok(cmd::grant(svc(), monthly, "paid_monthly", cmd::from_now(24h * 10)));
  expect_ok(cmd::grant(svc(), yearly, "paid_yearly", cmd::from_now(24h * 200)));
  expect_ok(cmd::grant(svc(), lifetime, "paid_lifetime"));
  expect_ok(cmd::apply(svc(), sanctioned, "login_block"));
  expect_ok(cmd::apply(svc(), sanctioned, "game_join_block", cmd::from_now(1h)));
  expect_ok(cmd::set_limit(svc(), limited, "max_owned_private_games", 3, cmd::from_now(1h)));
  expect_ok(cmd::apply(svc(), deleted, "login_block"));
  expect_ok(cmd::grant(svc(), deleted, "paid_lifetime"));
  EXPECT_EQ(acct::soft_delete(svc(), deleted).status, 200u);

  using V = std::vector<std::string>;
  auto expect_ids = [&](Query q, const V& oldest_first) {
    SCOPED_TRACE(query_string(q));
    q.emplace_back("created_after", since);
    EXPECT_EQ(walk_ids(svc(), q, 3), reversed(oldest_first));
  };
  const std::string in_1d = cmd::from_now(24h);
  const std::string in_30d = cmd::from_now(24h * 30);
  const std::string in_365d = cmd::from_now(24h * 365);

  expect_ids({}, {free1, free2, monthly, yearly, lifetime, sanctioned, limited});
  expect_ids({{"include_deleted", "false"}},
             {free1, free2, monthly, yearly, lifetime, sanctioned, limited});
  expect_ids({{"include_deleted", "true"}},
             {free1, free2, monthly, yearly, lifetime, sanctioned, limited, deleted});
  expect_ids({{"plan_code", "free"}}, {free1, free2, sanctioned, limited});
  expect_ids({{"plan_code", "paid_monthly"}}, {monthly});
  expect_ids({{"plan_code", "paid_yearly"}}, {yearly});
  expect_ids({{"plan_code", "paid_lifetime"}}, {lifetime});
  expect_ids({{"plan_code", "paid_lifetime"}, {"include_deleted", "true"}}, {lifetime, deleted});
  expect_ids({{"is_paid", "true"}}, {monthly, yearly, lifetime});
  expect_ids({{"is_paid", "false"}}, {free1, free2, sanctioned, limited});
  expect_ids({{"paid_ends_before", in_1d}}, {});
  expect_ids({{"paid_ends_before", in_30d}}, {monthly});
  expect_ids({{"paid_ends_before", in_365d}}, {monthly, yearly});
  expect_ids({{"declared_country", "DE"}}, {free1, yearly});
  expect_ids({{"declared_country", "DE"}, {"include_deleted", "true"}}, {free1, yearly, deleted});
  expect_ids({{"declared_country", "FR"}}, {monthly});
  expect_ids({{"declared_country", "JP"}}, {});
  expect_ids({{"sanction_code", "login_block"}}, {sanctioned});
  expect_ids({{"sanction_code", "login_block"}, {"include_deleted", "true"}},
             {sanctioned, deleted});
  expect_ids({{"sanction_code", "game_join_block"}}, {sanctioned});
  expect_ids({{"sanction_code", "private_game_create_block"}}, {});
  expect_ids({{"limit_code", "max_owned_private_games"}}, {limited});
  expect_ids({{"limit_code", "max_active_game_memberships"}}, {});
  // AND-combined.
  expect_ids({{"plan_code", "paid_yearly"}, {"declared_country", "DE"}}, {yearly});
  expect_ids({{"plan_code", "paid_monthly"}, {"declared_country", "DE"}}, {});
  expect_ids({{"is_paid", "true"}, {"declared_country", "DE"}}, {yearly});
  expect_ids({{"is_paid", "false"}, {"sanction_code", "login_block"}}, {sanctioned});
  expect_ids({{"plan_code", "free"}, {"is_paid", "true"}}, {});
  expect_ids({{"is_paid", "true"}, {"paid_ends_before", in_365d}, {"declared_country", "FR"}},
             {monthly});
  expect_ids({{"sanction_code", "login_block"}, {"limit_code", "max_owned_private_games"}}, {});
  expect_ids({{"declared_country", "DE"},
              {"is_paid", "true"},
              {"plan_code", "paid_lifetime"},
              {"sanction_code", "login_block"},
              {"include_deleted", "true"}},
             {deleted});

  // Items show what the filters matched on.
  Page p = page(svc(), {{"created_after", since}, {"plan_code", "paid_monthly"}});
  ASSERT_EQ(p.items.size(), 1u);
  EXPECT_EQ(str(field(p.items[0], "entitlement"), "plan_code"), "paid_monthly");
  EXPECT_EQ(field(field(p.items[0], "entitlement"), "is_paid"), json::value(true));
  EXPECT_TRUE(acct::is_timestamp(field(field(p.items[0], "entitlement"), "ends_at")));
  p = page(
      svc(),
      {{"created_after", since}, {"include_deleted", "true"}, {"sanction_code", "login_block"}});
  ASSERT_EQ(p.items.size(), 2u);
  EXPECT_TRUE(acct::is_timestamp(field(p.items[0], "deleted_at"))) << acct::json_str(p.items[0]);
  EXPECT_TRUE(field(p.items[1], "deleted_at").is_null());
}

TEST_F(AdminListing, ExpiredButUnsweptItemsDoNotMatch) {
  const std::string since = test_start();
  const auto lapsed_sanction = create_account(svc()).user_id;
  const auto lapsed_limit = create_account(svc()).user_id;
  const auto lapsed_paid = create_account(svc()).user_id;
  const auto active = create_account(svc()).user_id;
  // Items whose end has passed, left in the current tables as if the sweeper had not run yet.
  acct::seed_sanction(svc(), lapsed_sanction, "login_block", "now() - interval '1 minute'");
  acct::seed_limit(svc(), lapsed_limit, "max_owned_private_games", 2,
                   "now() - interval '1 second'");
  svc().sql(R"(UPDATE "user".entitlement_snapshots
                  SET plan_code = 'paid_monthly', is_paid = true, source = 'billing',
                      starts_at = now() - interval '31 days', ends_at = now() - interval '1 minute'
                WHERE user_id = )" +
            sql_literal(lapsed_paid));
  expect_ok(cmd::apply(svc(), active, "login_block", cmd::from_now(1h)));
  expect_ok(cmd::set_limit(svc(), active, "max_owned_private_games", 2, cmd::from_now(1h)));
  expect_ok(cmd::grant(svc(), active, "paid_monthly", cmd::from_now(24h)));
  ASSERT_EQ(
      cmd::count(svc(), R"(SELECT count(*) FROM "user".sanction_active WHERE expires_at < now())"),
      1);

  using V = std::vector<std::string>;
  auto expect_ids = [&](Query q, const V& oldest_first) {
    SCOPED_TRACE(query_string(q));
    q.emplace_back("created_after", since);
    EXPECT_EQ(walk_ids(svc(), q, 10), reversed(oldest_first));
  };
  expect_ids({{"sanction_code", "login_block"}}, {active});
  expect_ids({{"limit_code", "max_owned_private_games"}}, {active});
  expect_ids({{"plan_code", "paid_monthly"}}, {active});
  expect_ids({{"plan_code", "free"}}, {lapsed_sanction, lapsed_limit, lapsed_paid});
  expect_ids({{"is_paid", "true"}}, {active});
  expect_ids({{"is_paid", "false"}}, {lapsed_sanction, lapsed_limit, lapsed_paid});
  expect_ids({{"paid_ends_before", cmd::from_now(24h * 30)}}, {active});

  // And the items show the effective state: nothing lapsed, the lapsed plan as free.
  for (const auto& item : walk(svc(), {{"created_after", since}}, 10)) {
    SCOPED_TRACE(acct::json_str(item));
    const std::string id = user_id_of(item);
    if (id == active) continue;
    EXPECT_EQ(acct::json_str(field(item, "active_sanction_codes")), "[]");
    EXPECT_EQ(acct::json_str(field(item, "active_limit_codes")), "[]");
    EXPECT_EQ(str(field(item, "entitlement"), "plan_code"), "free");
    EXPECT_EQ(field(field(item, "entitlement"), "is_paid"), json::value(false));
  }
  // Still unswept: the listing read it as lapsed without repairing the rows.
  EXPECT_EQ(
      cmd::count(svc(), R"(SELECT count(*) FROM "user".sanction_active WHERE expires_at < now())"),
      1);
}

// Accounts at exact instants in a window of their own, ties included: pages follow
// (created_at DESC, user_id DESC) for every page size, created_after/created_before are
// exclusive, and a page token stays valid with another page size.
TEST_F(AdminListing, KeysetPagesWithTiesAndCreatedBounds) {
  std::vector<std::string> users;
  for (int i = 0; i < 9; ++i) users.push_back(create_account(svc()).user_id);
  // Offsets in µs from 2001-02-03T04:05:06Z; four accounts share one instant.
  const std::vector<long> offsets = {0,       500000,  1000000, 1000000, 1000000,
                                     1000000, 1000001, 2000000, 3000000};
  for (std::size_t i = 0; i < users.size(); ++i) {
    svc().sql(R"(UPDATE "user".accounts SET created_at = timestamptz '2001-02-03T04:05:06Z' +
                 interval '1 microsecond' * )" +
              std::to_string(offsets[i]) + " WHERE user_id = " + sql_literal(users[i]));
  }
  auto expected = [&](const std::string& lo, const std::string& hi) {
    std::vector<std::string> out;
    for (auto& row : svc().sql(R"(SELECT user_id FROM "user".accounts
                                   WHERE created_at > timestamptz ')" +
                               lo + R"('
                                     AND created_at < timestamptz ')" +
                               hi + R"('
                                   ORDER BY created_at DESC, user_id DESC)")) {
      out.push_back(row.at(0));
    }
    return out;
  };
  const std::string lo = "2001-02-03T04:05:05Z";
  const std::string hi = "2001-02-03T04:06:00Z";
  const auto all = expected(lo, hi);
  ASSERT_EQ(all.size(), 9u);
  for (int size : {1, 2, 3, 4, 8, 9, 10, 200}) {
    SCOPED_TRACE(size);
    int pages = 0;
    EXPECT_EQ(ids(walk(svc(), {{"created_after", lo}, {"created_before", hi}}, size, &pages)), all);
    EXPECT_EQ(pages, std::max(1, (9 + size - 1) / size));  // no empty page after an exact fit
  }
  // Exclusive bounds: the tie instant itself is outside both.
  const std::string tie = "2001-02-03T04:05:07Z";
  EXPECT_EQ(walk_ids(svc(), {{"created_after", lo}, {"created_before", tie}}, 2),
            expected(lo, tie));
  EXPECT_EQ(walk_ids(svc(), {{"created_after", lo}, {"created_before", tie}}, 2).size(), 2u);
  EXPECT_EQ(walk_ids(svc(), {{"created_after", tie}, {"created_before", hi}}, 2).size(), 3u);
  // An empty range is an empty page, not an error.
  EXPECT_TRUE(walk_ids(svc(), {{"created_after", hi}, {"created_before", lo}}, 2).empty());
  EXPECT_TRUE(walk_ids(svc(), {{"created_after", tie}, {"created_before", tie}}, 2).empty());
  // Offsets are one instant: "+01:00" and "Z" spellings select the same accounts, and '+'
  // may be sent literally.
  auto r = list_raw(svc(), "created_after=2001-02-03T05:05:05%2B01:00&created_before=" + pct(hi) +
                               "&page_size=200");
  auto v = expect_json(r, 200);
  EXPECT_EQ(field(v, "items").as_array().size(), 9u);
  r = list_raw(svc(), "created_after=2001-02-03T05:05:05+01:00&created_before=" + pct(hi));
  v = expect_json(r, 200);
  EXPECT_EQ(field(v, "items").as_array().size(), 9u);

  // A token carries the position, not the page size.
  Page first = page(svc(), {{"created_after", lo}, {"created_before", hi}, {"page_size", "3"}});
  ASSERT_TRUE(first.next);
  Page rest = page(svc(), {{"created_after", lo},
                           {"created_before", hi},
                           {"page_size", "200"},
                           {"page_token", *first.next}});
  std::vector<std::string> joined = ids(first.items);
  for (auto& id : ids(rest.items)) joined.push_back(id);
  EXPECT_EQ(joined, all);
  // The same token under the same filters written in another order or spelling works too.
  Page again = page(svc(), {{"page_token", *first.next},
                            {"created_before", "2001-02-03T05:06:00+01:00"},
                            {"created_after", lo},
                            {"page_size", "200"}});
  EXPECT_EQ(ids(again.items), ids(rest.items));
}

TEST_F(AdminListing, WalkWhileAccountsAreCreatedSeesEveryEarlierAccountOnce) {
  const std::string since = test_start();
  std::vector<std::string> before;
  for (int i = 0; i < 45; ++i) before.push_back(create_account(svc()).user_id);

  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::mutex mu;
  std::set<std::string> concurrent;
  std::thread writer([&] {
    while (!stop) {
      auto r = acct::ensure(svc(), acct::unique_email("concurrent"));
      if (r.status == 201) {
        std::lock_guard lock(mu);
        concurrent.insert(acct::str(acct::body_json(r), "user_id"));
        ++created;
      }
    }
  });
  std::vector<json::value> seen;
  std::optional<std::string> token;
  for (int guard = 0; guard < 1000; ++guard) {
    Query q = {{"created_after", since}, {"page_size", "4"}};
    if (token) q.emplace_back("page_token", *token);
    Page p = page(svc(), q);
    seen.insert(seen.end(), p.items.begin(), p.items.end());
    if (!p.next) break;
    token = p.next;
    std::this_thread::sleep_for(15ms);  // let inserts land between the pages
  }
  stop = true;
  writer.join();
  EXPECT_GE(created.load(), 5) << "the writer should have created accounts during the walk";

  std::map<std::string, int> count;
  for (const auto& id : ids(seen)) ++count[id];
  for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << id << " appeared " << n << " times";
  for (const auto& id : before) EXPECT_EQ(count[id], 1) << id << " was skipped";
  std::lock_guard lock(mu);
  for (const auto& [id, n] : count) {
    EXPECT_TRUE(std::find(before.begin(), before.end(), id) != before.end() || concurrent.count(id))
        << id;
  }
  // Strictly descending by (created_at, user_id) across the whole walk. The order is by the
  // stored microseconds; the view shows milliseconds, so read the exact values.
  std::map<std::string, long long> created_us;
  for (const auto& row :
       svc().sql("SELECT user_id, \"user\".epoch_us(created_at) FROM \"user\".accounts")) {
    created_us[row.at(0)] = std::stoll(row.at(1));
  }
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto a = std::pair{created_us[user_id_of(seen[i - 1])], user_id_of(seen[i - 1])};
    const auto b = std::pair{created_us[user_id_of(seen[i])], user_id_of(seen[i])};
    EXPECT_TRUE(b < a) << i << ": " << a.first << " " << a.second << " then " << b.first << " "
                       << b.second;
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST_F(AdminListing, BadParametersAreInvalidRequest) {
  // Two accounts, so that a first page of one has a token.
  create_account(svc());
  create_account(svc());
  const std::vector<std::string> bad = {
      "page_size=0",
      "page_size=201",
      "page_size=abc",
      "page_size=-1",
      "page_size=",
      "page_size=1.5",
      "page_size=%2B5",
      "page_size=5&page_size=5",
      "is_paid=yes",
      "is_paid=1",
      "is_paid=TRUE",
      "include_deleted=1",
      "include_deleted=",
      "created_after=yesterday",
      "created_after=2026-01-01",
      "created_before=2026-01-01T00:00:00",
      "paid_ends_before=1700000000",
      "paid_ends_before=2026-02-30T00:00:00Z",
      "plan_code=gold",
      "plan_code=",
      "plan_code=FREE",
      "sanction_code=mute",
      "limit_code=max_games",
      "declared_country=de",
      "declared_country=XK",
      "declared_country=DEU",
      "declared_country=",
      "foo=bar",
      "plan_code=free&planCode=free",
      "plan_code=free&plan_code=free",
      "sanction_code=login_block&sanction_code=game_join_block",
      "page_token=",
      "page_token=%zz",
      "%zz=1",
      "page_token=abc",
      "page_token=" + std::string(600, 'A'),
      "created_after=2026-01-01T00:00:00Z&created_after=2026-01-01T00:00:00Z"};
  const auto before = cmd::write_fingerprint(svc());
  for (const auto& q : bad) {
    SCOPED_TRACE(q);
    expect_error(list_raw(svc(), q), 400, "invalid_request");
  }
  EXPECT_EQ(cmd::write_fingerprint(svc()), before);
  // Empty pairs are ignored, like on the history routes.
  EXPECT_EQ(list_raw(svc(), "&&page_size=1&").status, 200u);
}

TEST_F(AdminListing, PageTokensAreBoundToTheFilterSetAndTamperProof) {
  create_account(svc());
  create_account(svc());
  Page p = page(svc(), {{"page_size", "1"}});
  ASSERT_TRUE(p.next);
  const std::string token = *p.next;
  // Valid under its own filters.
  EXPECT_EQ(list_raw(svc(), "page_size=1&page_token=" + token).status, 200u);
  EXPECT_EQ(list_raw(svc(), "page_size=1&include_deleted=false&page_token=" + token).status, 200u);
  // Any other filter set: 400, never a page.
  for (const std::string other :
       {"include_deleted=true", "plan_code=free", "is_paid=false", "declared_country=DE",
        "sanction_code=login_block", "limit_code=max_owned_private_games",
        "created_after=2000-01-01T00:00:00Z", "created_before=2100-01-01T00:00:00Z",
        "paid_ends_before=2100-01-01T00:00:00Z"}) {
    SCOPED_TRACE(other);
    expect_error(list_raw(svc(), other + "&page_token=" + token), 400, "invalid_request");
  }
  // Every single-character change.
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    auto r = list_raw(svc(), "page_token=" + t);
    EXPECT_EQ(r.status, 400u) << i << " " << r.body;
  }
  expect_error(list_raw(svc(), "page_token=" + token.substr(1)), 400, "invalid_request");
  expect_error(list_raw(svc(), "page_token=" + token + "AA"), 400, "invalid_request");

  // A history route's token is not a listing token.
  const auto user = create_account(svc()).user_id;
  expect_ok(cmd::apply(svc(), user, "login_block"));
  expect_ok(cmd::remove_sanction(svc(), user, "login_block"));
  auto h = expect_json(cmd::history(svc(), user, "sanctions", "page_size=1"), 200);
  ASSERT_TRUE(field(h, "next_page_token").is_string());
  expect_error(
      list_raw(svc(), "page_token=" + std::string(field(h, "next_page_token").as_string())), 400,
      "invalid_request");
}

TEST_F(AdminListing, OtherMethodsAre405) {
  auto r = svc().call("POST", kUsers, "{}");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_NE(r.header("allow").find("GET"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Replicas

// Databases of their own, filled through a service of their own (migrations + ensure).
struct Seeded {
  std::string dsn;
  std::vector<std::string> users;
};
Seeded seeded_database(int accounts) {
  Seeded d;
  d.dsn = shared_pg().create_database();
  auto helper = start_service({}, d.dsn);
  for (int i = 0; i < accounts; ++i) d.users.push_back(create_account(helper).user_id);
  return d;  // the helper service stops here
}

// Every filter combination is its own SQL; a walk through many of them must not pile up
// prepared statements on the pooled connections (generated SQL runs as one-shot statements).
TEST(AdminListingShapes, ManyShapesLeaveThePreparedStatementsBounded) {
  auto s = start_service(
      {{"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "2"}, {"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}});
  acct::create_account(s);
  const std::vector<std::pair<std::string, std::string>> filters = {
      {"plan_code", "paid_monthly"},
      {"is_paid", "true"},
      {"declared_country", "DE"},
      {"sanction_code", "login_block"},
      {"limit_code", "max_owned_private_games"},
      {"created_after", "2020-01-01T00:00:00Z"},
      {"include_deleted", "true"}};
  int shapes = 0;
  for (unsigned mask = 0; mask < (1u << filters.size()); ++mask) {
    Query q{{"page_size", "1"}};
    for (std::size_t i = 0; i < filters.size(); ++i) {
      if (mask & (1u << i)) q.push_back(filters[i]);
    }
    auto r = list_raw(s, query_string(q));
    ASSERT_EQ(r.status, 200u) << query_string(q) << " " << r.body;
    ++shapes;
  }
  EXPECT_EQ(shapes, 128);
  const std::string text = http(s.admin_port, "GET", "/metrics").body;
  const std::string sample = "userservice_db_prepared_statements{pool=\"primary\"} ";
  const auto at = text.find(sample);
  ASSERT_NE(at, std::string::npos) << text.substr(0, 3000);
  const double prepared = std::stod(text.substr(at + sample.size()));
  // The service's fixed statements at most, on each of the two connections.
  EXPECT_GT(prepared, 0);
  EXPECT_LE(prepared, 2.0 * static_cast<double>(userservice::postgres::all_statements().size() + 8))
      << "generated shapes were prepared";
}

TEST(AdminListingReplicas, ListingReadsTheReplicaAndOneWalkStaysOnOne) {
  // Two "replicas" that are really two other databases with other accounts: which accounts
  // a listing returns shows which database answered.
  Seeded r1 = seeded_database(3);
  Seeded r2 = seeded_database(2);
  auto s = start_service({{"USERSERVICE_POSTGRES_REPLICA_DSNS", r1.dsn + "," + r2.dsn}});
  const auto own = create_account(s).user_id;
  // Writes and lookups go to the primary.
  EXPECT_EQ(s.call("GET", kUsers + "/" + own).status, 200u);
  EXPECT_EQ(s.call("GET", kUsers + "/" + r1.users[0]).status, 404u);

  // First pages go round-robin: replica 1, replica 2, replica 1, ...
  Page a = page(s, {{"page_size", "1"}});
  Page b = page(s, {{"page_size", "1"}});
  ASSERT_EQ(a.items.size(), 1u);
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(user_id_of(a.items[0]), r1.users.back());
  EXPECT_EQ(user_id_of(b.items[0]), r2.users.back());
  // Later pages stay on the replica their walk began on, whatever the rotation says now.
  std::vector<std::string> walk_a = ids(a.items);
  for (std::optional<std::string> t = a.next; t;) {
    Page p = page(s, {{"page_size", "1"}, {"page_token", *t}});
    for (auto& id : ids(p.items)) walk_a.push_back(id);
    t = p.next;
  }
  EXPECT_EQ(walk_a, reversed(r1.users));
  std::vector<std::string> walk_b = ids(b.items);
  for (std::optional<std::string> t = b.next; t;) {
    Page p = page(s, {{"page_size", "1"}, {"page_token", *t}});
    for (auto& id : ids(p.items)) walk_b.push_back(id);
    t = p.next;
  }
  EXPECT_EQ(walk_b, reversed(r2.users));
  // The primary's own account is never listed.
  for (int i = 0; i < 4; ++i) {
    for (auto& id : walk_ids(s, {}, 10)) EXPECT_NE(id, own);
  }
  acct::expect_alive(s);
}

TEST(AdminListingReplicas, WithoutReplicasTheListingReadsThePrimary) {
  auto s = start_service({{"USERSERVICE_POSTGRES_REPLICA_DSNS", "<unset>"}});
  const auto own = create_account(s).user_id;
  EXPECT_EQ(walk_ids(s, {}, 10), std::vector<std::string>{own});
  acct::expect_alive(s);
}

// A replica that cannot be reached is skipped from the start: the primary serves the listing
// too (ha_replicas_test.cpp has the real standbys that lag and die).
TEST(AdminListingReplicas, AnUnreachableReplicaIsSkippedAndThePrimaryServesTheListing) {
  const std::string dead = "host=127.0.0.1 port=" + std::to_string(free_loopback_port()) +
                           " user=postgres dbname=postgres connect_timeout=1";
  auto s = start_service({{"USERSERVICE_POSTGRES_REPLICA_DSNS", dead}});
  ASSERT_TRUE(s.process->running());
  EXPECT_NE(s.process->stdout_text().find("postgres replica skipped"), std::string::npos);
  const auto own = create_account(s).user_id;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(walk_ids(s, {}, 10), std::vector<std::string>{own});
  acct::expect_alive(s);
}

TEST(AdminListingReplicas, AReplicaDsnLibpqCannotParseFailsTheStart) {
  const std::string dsn = shared_pg().create_database();
  auto env = service_env(dsn, free_loopback_port(),
                         {{"USERSERVICE_POSTGRES_REPLICA_DSNS", "host=127.0.0.1 nonsense"}});
  ServiceProcess p(USERSERVICE_BINARY, env);
  p.start();
  auto code = p.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << p.stdout_text();
  EXPECT_NE(*code, 0);
  EXPECT_NE(p.stderr_text().find("USERSERVICE_POSTGRES_REPLICA_DSNS entry 1"), std::string::npos)
      << p.stderr_text();
}

}  // namespace
