// Admin commands on entitlements, sanctions and limits (api.md §8), their history
// routes, events and conflicts, including concurrent conflicting commands on one user.
#include <latch>
#include <mutex>
#include <random>
#include <thread>

#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::cmd;
using acct::create_account;
using acct::expect_error;
using acct::expect_json;
using acct::field;
using acct::has;
using acct::json_str;
using acct::same_json;
using acct::sql_literal;
using acct::str;
namespace json = boost::json;

namespace {

class AdminCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new Service(start()); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { acct::expect_alive(service_->s); }
  static const RunningService& svc() { return service_->s; }
  static const Service& service() { return *service_; }
  static Service* service_;

  static std::string new_user() { return create_account(svc()).user_id; }

  // A 4xx that must not write anything.
  static void expect_rejected(const HttpResponse& r, unsigned status, std::string_view code,
                              const std::string& before) {
    expect_error(r, status, code);
    EXPECT_EQ(write_fingerprint(svc()), before) << "a rejected command wrote something";
  }
};
Service* AdminCommands::service_ = nullptr;

const std::string kUnknownId = "user-01jd00000000000000000000zz";

const json::value& entitlement_of(const json::value& view) { return field(view, "entitlement"); }

json::value paid_limits() {
  return json::parse(R"({"max_owned_private_games":5,"max_pending_public_applications":10,
                          "max_active_game_memberships":10})");
}

json::value latest_record(const RunningService& s, const std::string& user_id,
                          const std::string& kind) {
  auto r = history(s, user_id, kind, "page_size=1");
  auto v = expect_json(r, 200);
  const auto& items = field(v, "items");
  if (!items.is_array() || items.as_array().empty()) return nullptr;
  return items.as_array()[0];
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Entitlements: grant

TEST_F(AdminCommands, GrantPaidMonthlyAnswersTheAccountViewAndWritesRecordAndEvent) {
  auto id = new_user();
  const std::string ends = from_now(30 * 24h);
  std::string trace_id;
  auto headers = acct::trace_headers(trace_id);
  auto r =
      command(svc(), id, "/entitlements/grant",
              with_meta({{"plan_code", "paid_monthly"}, {"ends_at", ends}, {"source", "billing"}},
                        "subscription_paid", actor("billing", "stripe-webhook")),
              headers);
  auto v = expect_json(r, 200);
  acct::expect_account_view_shape(v);
  EXPECT_EQ(str(field(v, "account"), "user_id"), id);
  const auto& e = entitlement_of(v);
  EXPECT_EQ(str(e, "plan_code"), "paid_monthly");
  EXPECT_EQ(field(e, "is_paid"), json::value(true));
  EXPECT_EQ(str(e, "ends_at"), ends);
  EXPECT_TRUE(same_json(field(v, "effective_limits"), paid_limits())) << r.body;
  // starts_at defaults to the command's moment.
  auto starts = parse_ts(str(e, "starts_at"));
  ASSERT_TRUE(starts);
  EXPECT_LE(std::chrono::abs(*starts - std::chrono::system_clock::now()), 5s);

  auto rec = latest_record(svc(), id, "entitlements");
  EXPECT_EQ(str(rec, "kind"), "grant");
  EXPECT_EQ(str(rec, "plan_code"), "paid_monthly");
  EXPECT_EQ(field(rec, "is_paid"), json::value(true));
  EXPECT_EQ(str(rec, "starts_at"), str(e, "starts_at"));
  EXPECT_EQ(str(rec, "ends_at"), ends);
  EXPECT_EQ(str(rec, "source"), "billing");
  EXPECT_EQ(str(rec, "reason_code"), "subscription_paid");
  EXPECT_TRUE(same_json(field(rec, "actor"), actor("billing", "stripe-webhook")));
  EXPECT_TRUE(acct::is_timestamp(field(rec, "recorded_at")));
  EXPECT_EQ(str(rec, "recorded_at"), str(e, "starts_at"));  // one moment per command

  auto evts = events_of(service(), id, "user.entitlement.changed");
  ASSERT_EQ(evts.size(), 1u);
  EXPECT_EQ(evts[0].stream, "domain");
  EXPECT_EQ(evts[0].trace_id, trace_id);
  const auto& p = evts[0].payload;
  EXPECT_EQ(str(p, "user_id"), id);
  EXPECT_EQ(str(p, "kind"), "grant");
  EXPECT_EQ(str(p, "plan_code"), "paid_monthly");
  EXPECT_EQ(field(p, "is_paid"), json::value(true));
  EXPECT_EQ(str(p, "starts_at"), str(e, "starts_at"));
  EXPECT_EQ(str(p, "ends_at"), ends);
  EXPECT_EQ(str(p, "source"), "billing");
  EXPECT_EQ(str(p, "reason_code"), "subscription_paid");
  EXPECT_TRUE(same_json(field(p, "actor"), actor("billing", "stripe-webhook")));
  EXPECT_EQ(str(field(p, "previous"), "plan_code"), "free");
  EXPECT_EQ(field(field(p, "previous"), "is_paid"), json::value(false));
  EXPECT_TRUE(field(field(p, "previous"), "ends_at").is_null());
}

TEST_F(AdminCommands, GrantReplacesTheCurrentEntitlement) {
  auto id = new_user();
  ASSERT_EQ(grant(svc(), id, "paid_yearly", from_now(365 * 24h)).status, 200u);
  const std::string start = from_now(-48h);
  auto r = grant(svc(), id, "paid_lifetime", std::nullopt, start, "promo");
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(entitlement_of(v), "plan_code"), "paid_lifetime");
  EXPECT_EQ(str(entitlement_of(v), "starts_at"), start);
  EXPECT_TRUE(field(entitlement_of(v), "ends_at").is_null());
  EXPECT_EQ(count(svc(), "SELECT count(*) FROM \"user\".entitlement_snapshots WHERE user_id = " +
                             sql_literal(id)),
            1);
  auto evts = events_of(service(), id, "user.entitlement.changed");
  ASSERT_EQ(evts.size(), 2u);
  EXPECT_EQ(str(field(evts[1].payload, "previous"), "plan_code"), "paid_yearly");
  EXPECT_EQ(str(evts[1].payload, "source"), "promo");
  // Grant of free is allowed: it replaces the entitlement like any other plan.
  auto f = expect_json(grant(svc(), id, "free", std::nullopt, std::nullopt, "admin"), 200);
  EXPECT_EQ(str(entitlement_of(f), "plan_code"), "free");
  EXPECT_EQ(record_kinds(svc(), "entitlement_records", id),
            (std::vector<std::string>{"grant", "grant", "grant"}));
}

TEST_F(AdminCommands, GrantValidationIs400AndWritesNothing) {
  auto id = new_user();
  const std::string before = write_fingerprint(svc());
  const std::string future = from_now(24h);
  auto bad = [&](json::object body) {
    auto r = command(svc(), id, "/entitlements/grant", body);
    SCOPED_TRACE(json_str(body));
    expect_rejected(r, 400, "invalid_request", before);
  };
  auto base = [&](json::object extra) {
    json::object b =
        with_meta({{"plan_code", "paid_monthly"}, {"ends_at", future}, {"source", "billing"}});
    for (auto& kv : extra) b[kv.key()] = kv.value();
    return b;
  };
  bad(base({{"plan_code", "platinum"}}));  // unknown plan
  bad(base({{"plan_code", "PAID_MONTHLY"}}));
  bad(with_meta({{"plan_code", "paid_monthly"}, {"source", "billing"}}));  // ends_at required
  bad(with_meta({{"plan_code", "paid_yearly"}, {"source", "billing"}, {"ends_at", nullptr}}));
  bad(base({{"plan_code", "paid_lifetime"}}));  // ends_at not allowed
  bad(base({{"plan_code", "free"}}));
  bad(base({{"ends_at", from_now(-1s)}}));           // end in the past
  bad(base({{"starts_at", from_now(1h)}}));          // start in the future
  bad(base({{"ends_at", "2026-13-01T00:00:00Z"}}));  // not RFC 3339
  bad(base({{"ends_at", "tomorrow"}}));
  bad(base({{"starts_at", 12345}}));
  bad(base({{"source", "gift"}}));  // unknown source
  bad(base({{"reason_code", "Bad Reason"}}));
  bad(base({{"actor", actor("robot", "r2")}}));
  bad(base({{"actor", json::object{{"type", "admin"}}}}));
  bad(base({{"surprise", true}}));  // unknown field
  bad(base({{"actor", json::object{{"type", "admin"}, {"id", "a"}, {"x", 1}}}}));
  json::object no_source = base({});
  no_source.erase("source");
  bad(no_source);
  json::object no_actor = base({});
  no_actor.erase("actor");
  bad(no_actor);
  auto r = svc().call("POST", kApi + "/admin/users/" + id + "/entitlements/grant", "[]");
  expect_rejected(r, 400, "invalid_request", before);
}

TEST_F(AdminCommands, StartsAtAcceptsAnyOffsetAndIsEchoedInUtc) {
  auto id = new_user();
  auto r = grant(svc(), id, "paid_yearly", from_now(24h), "2026-01-01T10:00:00.5+02:00");
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(entitlement_of(v), "starts_at"), "2026-01-01T08:00:00.500Z");
}

// ---------------------------------------------------------------------------------------------
// Entitlements: extend and revoke

TEST_F(AdminCommands, ExtendMovesTheEndOfAPaidEntitlement) {
  auto id = new_user();
  auto g = expect_json(grant(svc(), id, "paid_monthly", from_now(24h)), 200);
  const std::string later = from_now(60 * 24h);
  auto v = expect_json(extend(svc(), id, later, "admin"), 200);
  const auto& e = entitlement_of(v);
  EXPECT_EQ(str(e, "plan_code"), "paid_monthly");
  EXPECT_EQ(str(e, "starts_at"), str(entitlement_of(g), "starts_at"));
  EXPECT_EQ(str(e, "ends_at"), later);
  auto rec = latest_record(svc(), id, "entitlements");
  EXPECT_EQ(str(rec, "kind"), "extend");
  EXPECT_EQ(str(rec, "ends_at"), later);
  EXPECT_EQ(str(rec, "source"), "admin");
  EXPECT_EQ(str(rec, "plan_code"), "paid_monthly");
  auto evts = events_of(service(), id, "user.entitlement.changed");
  ASSERT_EQ(evts.size(), 2u);
  EXPECT_EQ(str(evts[1].payload, "kind"), "extend");
  EXPECT_EQ(str(evts[1].payload, "ends_at"), later);
  EXPECT_EQ(str(field(evts[1].payload, "previous"), "ends_at"), str(entitlement_of(g), "ends_at"));
}

TEST_F(AdminCommands, ExtendConflicts) {
  auto id = new_user();
  std::string before = write_fingerprint(svc());
  // Free: nothing to extend.
  expect_rejected(extend(svc(), id, from_now(24h)), 409, "conflict", before);
  // Lifetime: no end.
  ASSERT_EQ(grant(svc(), id, "paid_lifetime").status, 200u);
  before = write_fingerprint(svc());
  expect_rejected(extend(svc(), id, from_now(24h)), 409, "conflict", before);
  // Monthly: the new end must be after the current one.
  const std::string end = from_now(10 * 24h);
  ASSERT_EQ(grant(svc(), id, "paid_monthly", end).status, 200u);
  before = write_fingerprint(svc());
  expect_rejected(extend(svc(), id, end), 409, "conflict", before);
  expect_rejected(extend(svc(), id, from_now(5 * 24h)), 409, "conflict", before);
  // Time bounds are checked first: a past end is 400 even where it would also conflict.
  expect_rejected(extend(svc(), id, from_now(-1h)), 400, "invalid_request", before);
  // Missing or bad fields.
  expect_rejected(command(svc(), id, "/entitlements/extend", with_meta({{"source", "billing"}})),
                  400, "invalid_request", before);
  expect_rejected(command(svc(), id, "/entitlements/extend",
                          with_meta({{"ends_at", from_now(90 * 24h)}, {"source", "shop"}})),
                  400, "invalid_request", before);
  expect_rejected(command(svc(), id, "/entitlements/extend",
                          with_meta({{"ends_at", from_now(90 * 24h)},
                                     {"source", "admin"},
                                     {"plan_code", "paid_yearly"}})),
                  400, "invalid_request", before);
}

TEST_F(AdminCommands, RevokeReturnsToFreeAndConflictsWhenAlreadyFree) {
  auto id = new_user();
  std::string before = write_fingerprint(svc());
  expect_rejected(revoke(svc(), id), 409, "conflict", before);
  ASSERT_EQ(grant(svc(), id, "paid_yearly", from_now(300 * 24h)).status, 200u);
  auto v = expect_json(revoke(svc(), id), 200);
  const auto& e = entitlement_of(v);
  EXPECT_EQ(str(e, "plan_code"), "free");
  EXPECT_EQ(field(e, "is_paid"), json::value(false));
  EXPECT_TRUE(field(e, "ends_at").is_null());
  EXPECT_TRUE(same_json(field(v, "effective_limits"), acct::free_limits()));
  auto rec = latest_record(svc(), id, "entitlements");
  EXPECT_EQ(str(rec, "kind"), "revoke");
  EXPECT_EQ(str(rec, "plan_code"), "free");
  EXPECT_TRUE(field(rec, "source").is_null());
  EXPECT_EQ(str(rec, "starts_at"), str(e, "starts_at"));
  auto evts = events_of(service(), id, "user.entitlement.changed");
  ASSERT_EQ(evts.size(), 2u);
  EXPECT_EQ(str(evts[1].payload, "kind"), "revoke");
  EXPECT_EQ(str(field(evts[1].payload, "previous"), "plan_code"), "paid_yearly");
  before = write_fingerprint(svc());
  expect_rejected(revoke(svc(), id), 409, "conflict", before);
  expect_rejected(command(svc(), id, "/entitlements/revoke", json::object{}), 400,
                  "invalid_request", before);
}

// ---------------------------------------------------------------------------------------------
// Sanctions

TEST_F(AdminCommands, ApplyAndRemoveASanction) {
  auto id = new_user();
  const std::string until = from_now(7 * 24h);
  auto v = expect_json(apply(svc(), id, "game_join_block", until, "cheating"), 200);
  const auto& s = field(v, "active_sanctions").as_array();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(str(s[0], "sanction_code"), "game_join_block");
  EXPECT_EQ(str(s[0], "reason_code"), "cheating");
  EXPECT_EQ(str(s[0], "expires_at"), until);
  auto elig = expect_json(svc().call("GET", kApi + "/users/" + id + "/eligibility"), 200);
  EXPECT_EQ(field(elig, "can_join_games"), json::value(false));
  EXPECT_EQ(field(elig, "can_login"), json::value(true));

  auto rec = latest_record(svc(), id, "sanctions");
  EXPECT_EQ(str(rec, "kind"), "apply");
  EXPECT_EQ(str(rec, "sanction_code"), "game_join_block");
  EXPECT_EQ(str(rec, "expires_at"), until);
  EXPECT_EQ(str(rec, "reason_code"), "cheating");
  EXPECT_TRUE(same_json(field(rec, "actor"), actor()));

  auto r = expect_json(remove_sanction(svc(), id, "game_join_block"), 200);
  EXPECT_TRUE(field(r, "active_sanctions").as_array().empty());
  rec = latest_record(svc(), id, "sanctions");
  EXPECT_EQ(str(rec, "kind"), "remove");
  EXPECT_TRUE(field(rec, "expires_at").is_null());

  auto evts = events_of(service(), id, "user.sanction.changed");
  ASSERT_EQ(evts.size(), 2u);
  EXPECT_EQ(str(evts[0].payload, "kind"), "apply");
  EXPECT_EQ(field(evts[0].payload, "active"), json::value(true));
  EXPECT_EQ(str(evts[0].payload, "expires_at"), until);
  EXPECT_EQ(str(evts[0].payload, "sanction_code"), "game_join_block");
  EXPECT_EQ(str(evts[1].payload, "kind"), "remove");
  EXPECT_EQ(field(evts[1].payload, "active"), json::value(false));
  // Only login_block writes lifecycle events.
  EXPECT_EQ(events_of(service(), id, "user.login_blocked").size(), 0u);
  EXPECT_EQ(events_of(service(), id, "user.login_unblocked").size(), 0u);
}

TEST_F(AdminCommands, ReapplyReplacesExpiryReasonActorAndAppliedAt) {
  auto id = new_user();
  ASSERT_EQ(apply(svc(), id, "private_game_create_block", from_now(24h), "first_reason").status,
            200u);
  auto first = svc().sql(
      "SELECT \"user\".rfc3339(applied_at) FROM \"user\".sanction_active "
      "WHERE user_id = " +
      sql_literal(id));
  std::this_thread::sleep_for(5ms);
  auto r = command(svc(), id, "/sanctions/apply",
                   with_meta({{"sanction_code", "private_game_create_block"}}, "second_reason",
                             actor("system", "moderation-bot")));
  auto v = expect_json(r, 200);
  const auto& s = field(v, "active_sanctions").as_array();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(field(s[0], "expires_at").is_null());  // now permanent
  EXPECT_EQ(str(s[0], "reason_code"), "second_reason");
  EXPECT_NE(str(s[0], "applied_at"), first.at(0).at(0));
  auto row =
      svc().sql("SELECT actor_type, actor_id FROM \"user\".sanction_active WHERE user_id = " +
                sql_literal(id));
  EXPECT_EQ(row.at(0), (std::vector<std::string>{"system", "moderation-bot"}));
  EXPECT_EQ(record_kinds(svc(), "sanction_records", id),
            (std::vector<std::string>{"apply", "apply"}));
}

TEST_F(AdminCommands, LoginBlockWritesLifecycleEventsAndBlocksResolution) {
  auto a = create_account(svc());
  const std::string until = from_now(24h);
  ASSERT_EQ(apply(svc(), a.user_id, "login_block", until, "fraud").status, 200u);
  auto res = expect_json(acct::resolve(svc(), a.email), 200);
  EXPECT_EQ(str(res, "kind"), "blocked");
  EXPECT_EQ(str(res, "block_reason_code"), "login_block");
  auto elig = expect_json(svc().call("GET", kApi + "/users/" + a.user_id + "/eligibility"), 200);
  EXPECT_EQ(field(elig, "can_login"), json::value(false));

  ASSERT_EQ(remove_sanction(svc(), a.user_id, "login_block").status, 200u);
  res = expect_json(acct::resolve(svc(), a.email), 200);
  EXPECT_EQ(str(res, "kind"), "existing");

  auto all = events(service(), a.user_id);
  auto blocked = events_of(service(), a.user_id, "user.login_blocked");
  auto unblocked = events_of(service(), a.user_id, "user.login_unblocked");
  ASSERT_EQ(blocked.size(), 1u);
  ASSERT_EQ(unblocked.size(), 1u);
  EXPECT_EQ(blocked[0].stream, "lifecycle");
  EXPECT_EQ(str(blocked[0].payload, "user_id"), a.user_id);
  EXPECT_EQ(str(blocked[0].payload, "kind"), "apply");
  EXPECT_EQ(str(blocked[0].payload, "expires_at"), until);
  EXPECT_EQ(str(blocked[0].payload, "reason_code"), "fraud");
  EXPECT_TRUE(same_json(field(blocked[0].payload, "actor"), actor()));
  EXPECT_EQ(unblocked[0].stream, "lifecycle");
  EXPECT_EQ(str(unblocked[0].payload, "kind"), "remove");
  EXPECT_EQ(count_events(all, "user.sanction.changed"), 2u);
  // Both events of one command come from its transaction: same trace.
  EXPECT_EQ(blocked[0].trace_id,
            events_of(service(), a.user_id, "user.sanction.changed")[0].trace_id);
}

TEST_F(AdminCommands, SanctionConflictsAndValidation) {
  auto id = new_user();
  std::string before = write_fingerprint(svc());
  expect_rejected(remove_sanction(svc(), id, "game_join_block"), 409, "conflict", before);
  expect_rejected(apply(svc(), id, "mute"), 400, "invalid_request", before);
  expect_rejected(remove_sanction(svc(), id, "mute"), 400, "invalid_request", before);
  expect_rejected(apply(svc(), id, "login_block", from_now(-1s)), 400, "invalid_request", before);
  expect_rejected(apply(svc(), id, "login_block", "2026-11-25 10:00:00Z"), 400, "invalid_request",
                  before);
  expect_rejected(command(svc(), id, "/sanctions/apply", with_meta({})), 400, "invalid_request",
                  before);
  expect_rejected(command(svc(), id, "/sanctions/apply",
                          with_meta({{"sanction_code", "login_block"}, {"value", 1}})),
                  400, "invalid_request", before);
  ASSERT_EQ(apply(svc(), id, "game_join_block").status, 200u);
  before = write_fingerprint(svc());
  // Removing another code than the active one.
  expect_rejected(remove_sanction(svc(), id, "login_block"), 409, "conflict", before);
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST_F(AdminCommands, SetReplaceAndRemoveALimit) {
  auto id = new_user();
  auto v = expect_json(set_limit(svc(), id, "max_owned_private_games", 4), 200);
  EXPECT_TRUE(same_json(field(field(v, "effective_limits"), "max_owned_private_games"), 4));
  const auto& l = field(v, "active_limits").as_array();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(str(l[0], "limit_code"), "max_owned_private_games");
  EXPECT_TRUE(same_json(field(l[0], "value"), 4));
  EXPECT_EQ(str(l[0], "reason_code"), "support_case");
  EXPECT_TRUE(field(l[0], "expires_at").is_null());

  const std::string until = from_now(3 * 24h);
  v = expect_json(set_limit(svc(), id, "max_owned_private_games", 0, until), 200);
  ASSERT_EQ(field(v, "active_limits").as_array().size(), 1u);
  EXPECT_TRUE(same_json(field(field(v, "effective_limits"), "max_owned_private_games"), 0));
  EXPECT_EQ(str(field(v, "active_limits").as_array()[0], "expires_at"), until);
  // An override holds whatever the plan says.
  ASSERT_EQ(grant(svc(), id, "paid_lifetime").status, 200u);
  v = expect_json(set_limit(svc(), id, "max_active_game_memberships", 1000000), 200);
  EXPECT_TRUE(same_json(field(v, "effective_limits"), json::parse(R"({"max_owned_private_games":0,
                                        "max_pending_public_applications":10,
                                        "max_active_game_memberships":1000000})")))
      << json_str(v);

  v = expect_json(remove_limit(svc(), id, "max_owned_private_games"), 200);
  EXPECT_TRUE(same_json(field(field(v, "effective_limits"), "max_owned_private_games"), 5));
  ASSERT_EQ(field(v, "active_limits").as_array().size(), 1u);

  auto items = all_history(svc(), id, "limits");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(str(items[0], "kind"), "remove");
  EXPECT_TRUE(field(items[0], "value").is_null());
  EXPECT_EQ(str(items[1], "kind"), "set");
  EXPECT_TRUE(same_json(field(items[1], "value"), 1000000));
  EXPECT_EQ(str(items[1], "limit_code"), "max_active_game_memberships");
  EXPECT_TRUE(same_json(field(items[2], "value"), 0));
  EXPECT_EQ(str(items[2], "expires_at"), until);
  EXPECT_TRUE(same_json(field(items[3], "value"), 4));

  auto evts = events_of(service(), id, "user.limit.changed");
  ASSERT_EQ(evts.size(), 4u);
  EXPECT_EQ(str(evts[0].payload, "kind"), "set");
  EXPECT_TRUE(same_json(field(evts[0].payload, "value"), 4));
  EXPECT_EQ(str(evts[0].payload, "limit_code"), "max_owned_private_games");
  EXPECT_EQ(str(evts[3].payload, "kind"), "remove");
  EXPECT_TRUE(field(evts[3].payload, "value").is_null());
}

TEST_F(AdminCommands, LimitConflictsAndValidation) {
  auto id = new_user();
  const std::string before = write_fingerprint(svc());
  expect_rejected(remove_limit(svc(), id, "max_owned_private_games"), 409, "conflict", before);
  expect_rejected(set_limit(svc(), id, "max_owned_private_games", -1), 400, "invalid_request",
                  before);
  expect_rejected(set_limit(svc(), id, "max_owned_private_games", 1000001), 400, "invalid_request",
                  before);
  expect_rejected(set_limit(svc(), id, "max_friends", 3), 400, "invalid_request", before);
  expect_rejected(remove_limit(svc(), id, "max_friends"), 400, "invalid_request", before);
  expect_rejected(set_limit(svc(), id, "max_owned_private_games", 3, from_now(-5s)), 400,
                  "invalid_request", before);
  for (const char* value : {"2.5", "\"3\"", "null", "true", "1e3", "99999999999999999999"}) {
    auto r = svc().call("POST", kApi + "/admin/users/" + id + "/limits/set",
                        R"({"limit_code":"max_owned_private_games","value":)" + std::string(value) +
                            R"(,"reason_code":"x","actor":{"type":"admin","id":"a"}})");
    SCOPED_TRACE(value);
    expect_rejected(r, 400, "invalid_request", before);
  }
  expect_rejected(
      command(svc(), id, "/limits/set", with_meta({{"limit_code", "max_owned_private_games"}})),
      400, "invalid_request", before);
}

// ---------------------------------------------------------------------------------------------
// Unknown, deleted and malformed users

TEST_F(AdminCommands, CommandsOnUnknownOrDeletedUsersAre404) {
  auto deleted = new_user();
  ASSERT_EQ(apply(svc(), deleted, "game_join_block").status, 200u);
  ASSERT_EQ(acct::soft_delete(svc(), deleted).status, 200u);
  const std::string before = write_fingerprint(svc());
  for (const std::string& id : {kUnknownId, deleted}) {
    SCOPED_TRACE(id);
    expect_rejected(grant(svc(), id, "paid_lifetime"), 404, "subject_not_found", before);
    expect_rejected(extend(svc(), id, from_now(24h)), 404, "subject_not_found", before);
    expect_rejected(revoke(svc(), id), 404, "subject_not_found", before);
    expect_rejected(apply(svc(), id, "login_block"), 404, "subject_not_found", before);
    expect_rejected(remove_sanction(svc(), id, "game_join_block"), 404, "subject_not_found",
                    before);
    expect_rejected(set_limit(svc(), id, "max_owned_private_games", 2), 404, "subject_not_found",
                    before);
    expect_rejected(remove_limit(svc(), id, "max_owned_private_games"), 404, "subject_not_found",
                    before);
  }
  // Validation comes first.
  expect_rejected(apply(svc(), kUnknownId, "mute"), 400, "invalid_request", before);
  for (const std::string& bad :
       {std::string("has%20space"), std::string(65, 'a'), std::string("semi%3Bcolon")}) {
    expect_rejected(apply(svc(), bad, "login_block"), 400, "invalid_request", before);
    expect_error(history(svc(), bad, "sanctions"), 400, "invalid_request");
  }
}

TEST_F(AdminCommands, HistoryOfUnknownIs404AndOfDeletedIsReadable) {
  for (const char* kind : {"entitlements", "sanctions", "limits"}) {
    expect_error(history(svc(), kUnknownId, kind), 404, "subject_not_found");
  }
  auto id = new_user();
  ASSERT_EQ(apply(svc(), id, "game_join_block").status, 200u);
  ASSERT_EQ(acct::soft_delete(svc(), id).status, 200u);
  auto v = expect_json(history(svc(), id, "sanctions"), 200);
  ASSERT_EQ(field(v, "items").as_array().size(), 1u);
  EXPECT_TRUE(field(v, "next_page_token").is_null());
  auto e = expect_json(history(svc(), id, "entitlements"), 200);
  EXPECT_TRUE(field(e, "items").as_array().empty());  // the free snapshot at creation is no record
  EXPECT_TRUE(has(e, "next_page_token"));
}

TEST_F(AdminCommands, WrongMethodsAre405) {
  auto id = new_user();
  auto r = svc().call("GET", kApi + "/admin/users/" + id + "/sanctions/apply");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.header("allow"), "POST");
  r = svc().call("POST", kApi + "/admin/users/" + id + "/sanctions/history", "{}");
  EXPECT_EQ(r.status, 405u);
}

// ---------------------------------------------------------------------------------------------
// History pagination

TEST_F(AdminCommands, HistoryPagesNewestFirstWithOpaqueTokens) {
  auto id = new_user();
  std::vector<std::string> reasons;
  for (int i = 0; i < 7; ++i) {
    reasons.push_back("step_" + std::to_string(i));
    ASSERT_EQ(apply(svc(), id, "game_join_block", std::nullopt, reasons.back()).status, 200u);
  }
  std::vector<std::string> seen;
  std::string token;
  std::vector<std::size_t> sizes;
  for (int page = 0; page < 5; ++page) {
    auto r = history(svc(), id, "sanctions",
                     "page_size=3" + (token.empty() ? "" : "&page_token=" + token));
    auto v = expect_json(r, 200);
    const auto& items = field(v, "items").as_array();
    sizes.push_back(items.size());
    for (const auto& it : items) seen.push_back(str(it, "reason_code"));
    if (field(v, "next_page_token").is_null()) break;
    token = std::string(field(v, "next_page_token").as_string());
    EXPECT_FALSE(token.empty());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
  std::vector<std::string> expected(reasons.rbegin(), reasons.rend());
  EXPECT_EQ(seen, expected);

  // Default page size (50) holds them all; exactly page_size items leave no next page.
  auto all = expect_json(history(svc(), id, "sanctions"), 200);
  EXPECT_EQ(field(all, "items").as_array().size(), 7u);
  EXPECT_TRUE(field(all, "next_page_token").is_null());
  auto exact = expect_json(history(svc(), id, "sanctions", "page_size=7"), 200);
  EXPECT_TRUE(field(exact, "next_page_token").is_null());
  auto max = expect_json(history(svc(), id, "sanctions", "page_size=200"), 200);
  EXPECT_EQ(field(max, "items").as_array().size(), 7u);
}

TEST_F(AdminCommands, BadPageParametersAndForeignOrTamperedTokensAre400) {
  auto id = new_user();
  auto other = new_user();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(apply(svc(), id, "game_join_block").status, 200u);
    ASSERT_EQ(apply(svc(), other, "game_join_block").status, 200u);
    ASSERT_EQ(set_limit(svc(), id, "max_owned_private_games", i).status, 200u);
  }
  auto first = expect_json(history(svc(), id, "sanctions", "page_size=1"), 200);
  const std::string token(field(first, "next_page_token").as_string());
  auto limits_first = expect_json(history(svc(), id, "limits", "page_size=1"), 200);
  const std::string limits_token(field(limits_first, "next_page_token").as_string());
  auto other_first = expect_json(history(svc(), other, "sanctions", "page_size=1"), 200);
  const std::string other_token(field(other_first, "next_page_token").as_string());

  // The genuine token works.
  EXPECT_EQ(history(svc(), id, "sanctions", "page_size=1&page_token=" + token).status, 200u);

  std::vector<std::string> bad_queries = {"page_size=0",
                                          "page_size=201",
                                          "page_size=-1",
                                          "page_size=abc",
                                          "page_size=",
                                          "page_size",
                                          "page_size=1.5",
                                          "page_size=%2B5",
                                          "page_size=99999999999",
                                          "page_size=1&page_size=2",
                                          "page_token=",
                                          "page_token=null",
                                          "page_token=" + token + "A",
                                          "page_token=" + token.substr(0, token.size() - 1),
                                          "page_token=" + other_token,   // another user's
                                          "page_token=" + limits_token,  // another history's
                                          "page_token=%zz",
                                          "page_token=" + token + "&page_token=" + token,
                                          "cursor=abc",
                                          "page_size=1&sort=asc"};
  // Every single-character change of the token.
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    bad_queries.push_back("page_token=" + t);
  }
  for (const auto& q : bad_queries) {
    SCOPED_TRACE(q);
    expect_error(history(svc(), id, "sanctions", q), 400, "invalid_request");
  }
  // A bad token is 400 even for an unknown user (validation before lookup).
  expect_error(history(svc(), kUnknownId, "sanctions", "page_token=xyz"), 400, "invalid_request");
}

TEST_F(AdminCommands, HistoryRecordShapes) {
  auto id = new_user();
  ASSERT_EQ(grant(svc(), id, "paid_monthly", from_now(24h)).status, 200u);
  ASSERT_EQ(apply(svc(), id, "game_join_block").status, 200u);
  ASSERT_EQ(set_limit(svc(), id, "max_owned_private_games", 3).status, 200u);
  auto keys = [](const json::value& v) {
    std::set<std::string> out;
    for (const auto& kv : v.as_object()) out.insert(std::string(kv.key()));
    return out;
  };
  auto e = latest_record(svc(), id, "entitlements");
  EXPECT_EQ(keys(e), (std::set<std::string>{"kind", "plan_code", "is_paid", "starts_at", "ends_at",
                                            "source", "reason_code", "actor", "recorded_at"}));
  auto s = latest_record(svc(), id, "sanctions");
  EXPECT_EQ(keys(s), (std::set<std::string>{"kind", "sanction_code", "expires_at", "reason_code",
                                            "actor", "recorded_at"}));
  auto l = latest_record(svc(), id, "limits");
  EXPECT_EQ(keys(l), (std::set<std::string>{"kind", "limit_code", "value", "expires_at",
                                            "reason_code", "actor", "recorded_at"}));
  auto v = expect_json(history(svc(), id, "limits"), 200);
  EXPECT_EQ(keys(v), (std::set<std::string>{"items", "next_page_token"}));
}

// ---------------------------------------------------------------------------------------------
// Concurrency: the account row lock serialises one user's commands

TEST_F(AdminCommands, ConcurrentApplyAndRemoveOfOneSanctionStayConsistent) {
  auto id = new_user();
  constexpr int kThreads = 16;
  constexpr int kOpsPerThread = 12;
  std::atomic<int> ok{0}, conflicts{0}, other{0}, applies_ok{0}, removes_ok{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(svc().port);
      std::mt19937 rng(t * 7919 + 1);
      go.arrive_and_wait();
      for (int i = 0; i < kOpsPerThread; ++i) {
        const bool do_apply = rng() % 2 == 0;
        json::object body =
            do_apply ? with_meta({{"sanction_code", "login_block"},
                                  {"expires_at", from_now(std::chrono::hours(1 + t * 100 + i))}},
                                 "t" + std::to_string(t) + "_" + std::to_string(i))
                     : with_meta({{"sanction_code", "login_block"}});
        auto r = client.request(
            "POST",
            kApi + "/admin/users/" + id + (do_apply ? "/sanctions/apply" : "/sanctions/remove"),
            json_str(body));
        if (r.status == 200) {
          ++ok;
          ++(do_apply ? applies_ok : removes_ok);
        } else if (r.status == 409 && !do_apply) {
          ++conflicts;
        } else {
          ++other;
          ADD_FAILURE() << r.status << " " << r.body;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + conflicts, kThreads * kOpsPerThread);

  // One record per 200, none for a 409.
  auto kinds = record_kinds(svc(), "sanction_records", id);
  EXPECT_EQ(static_cast<int>(kinds.size()), ok.load());
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "apply"), applies_ok.load());
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "remove"), removes_ok.load());
  // The history explains itself: a remove only ever follows an apply (it needs an active one).
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] == "remove") {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(kinds[i - 1], "apply") << "record " << i;
    }
  }
  // The current state is the last record's.
  auto last = svc().sql(
      "SELECT kind, reason_code, \"user\".epoch_us(expires_at) FROM "
      "\"user\".sanction_records WHERE user_id = " +
      sql_literal(id) + " ORDER BY record_id DESC LIMIT 1");
  auto active = svc().sql(
      "SELECT reason_code, \"user\".epoch_us(expires_at) FROM "
      "\"user\".sanction_active WHERE user_id = " +
      sql_literal(id));
  ASSERT_FALSE(last.empty());
  if (last[0][0] == "apply") {
    ASSERT_EQ(active.size(), 1u);
    EXPECT_EQ(active[0][0], last[0][1]);
    EXPECT_EQ(active[0][1], last[0][2]);
  } else {
    EXPECT_TRUE(active.empty());
  }
  // Events: one domain event per record, and the lifecycle pair for every login_block change.
  auto all = events(service(), id);
  EXPECT_EQ(count_events(all, "user.sanction.changed"), kinds.size());
  EXPECT_EQ(count_events(all, "user.login_blocked"), static_cast<std::size_t>(applies_ok.load()));
  EXPECT_EQ(count_events(all, "user.login_unblocked"), static_cast<std::size_t>(removes_ok.load()));
}

TEST_F(AdminCommands, ConcurrentConflictingEntitlementCommandsStayConsistent) {
  auto id = new_user();
  constexpr int kThreads = 12;
  constexpr int kOpsPerThread = 10;
  std::atomic<int> ok{0}, conflicts{0}, other{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(svc().port);
      std::mt19937 rng(t * 104729 + 3);
      go.arrive_and_wait();
      for (int i = 0; i < kOpsPerThread; ++i) {
        std::string path;
        json::object body;
        switch (rng() % 4) {
          case 0:
            path = "/entitlements/grant";
            body = with_meta({{"plan_code", "paid_monthly"},
                              {"ends_at", from_now(std::chrono::hours(24 + rng() % 1000))},
                              {"source", "billing"}});
            break;
          case 1:
            path = "/entitlements/grant";
            body = with_meta({{"plan_code", "paid_lifetime"}, {"source", "promo"}});
            break;
          case 2:
            path = "/entitlements/extend";
            body = with_meta({{"ends_at", from_now(std::chrono::hours(24 + rng() % 2000))},
                              {"source", "admin"}});
            break;
          default:
            path = "/entitlements/revoke";
            body = with_meta({});
        }
        auto r = client.request("POST", kApi + "/admin/users/" + id + path, json_str(body));
        if (r.status == 200) {
          ++ok;
        } else if (r.status == 409 && path != "/entitlements/grant") {
          ++conflicts;
        } else {
          ++other;
          ADD_FAILURE() << path << ": " << r.status << " " << r.body;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(static_cast<int>(record_kinds(svc(), "entitlement_records", id).size()), ok.load());
  // Snapshot == the values of the last record.
  auto last = svc().sql(
      "SELECT plan_code, is_paid, starts_at, ends_at, source FROM "
      "\"user\".entitlement_records WHERE user_id = " +
      sql_literal(id) + " ORDER BY record_id DESC LIMIT 1");
  auto snap = svc().sql(
      "SELECT plan_code, is_paid, starts_at, ends_at, source FROM "
      "\"user\".entitlement_snapshots WHERE user_id = " +
      sql_literal(id));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(snap.at(0), last.at(0));
  // Each record is legal given the one before it: extends only follow paid-with-end states
  // and move the end forward; revokes only follow paid states.
  auto rows = svc().sql(
      "SELECT kind, plan_code, \"user\".epoch_us(ends_at) FROM "
      "\"user\".entitlement_records WHERE user_id = " +
      sql_literal(id) + " ORDER BY record_id");
  std::string plan = "free";
  std::string ends = "<null>";
  for (const auto& row : rows) {
    if (row[0] == "extend") {
      EXPECT_TRUE(plan == "paid_monthly" && ends != "<null>");
      EXPECT_GT(std::stoll(row[2]), std::stoll(ends));
    }
    if (row[0] == "revoke") {
      EXPECT_NE(plan, "free");
    }
    plan = row[1];
    ends = row[2];
  }
  EXPECT_EQ(count_events(events(service(), id), "user.entitlement.changed"), rows.size());
}
