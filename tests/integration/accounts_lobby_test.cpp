// Game Lobby routes (api.md §6): eligibility (single and batch) and profiles:batch, with the
// ordering, duplicate and not_found rules and the 1–100 bounds of docs/api.md.
#include <set>

#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;

namespace {

class AccountsLobby : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new RunningService(start_service()); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { expect_alive(*service_); }
  const RunningService& svc() const { return *service_; }
  static RunningService* service_;

  HttpResponse eligibility(const std::string& id) const {
    return svc().call("GET", kApi + "/users/" + id + "/eligibility");
  }
  HttpResponse batch(const std::string& route, const std::vector<std::string>& ids) const {
    boost::json::array arr;
    for (const auto& id : ids) arr.emplace_back(id);
    return post_json(svc(), "/users/" + route, {{"user_ids", arr}});
  }
};
RunningService* AccountsLobby::service_ = nullptr;

std::string unknown_id(int n) {
  std::string digits = std::to_string(n);
  return "user-zz" + std::string(24 - digits.size(), '0') + digits;
}

std::vector<std::string> ids_of(const boost::json::value& items) {
  std::vector<std::string> out;
  if (!items.is_array()) return {"<items not an array>"};
  for (const auto& it : items.as_array()) out.push_back(str(it, "user_id"));
  return out;
}

std::vector<std::string> strings_of(const boost::json::value& arr) {
  std::vector<std::string> out;
  if (!arr.is_array()) return {"<not an array>"};
  for (const auto& it : arr.as_array()) {
    out.push_back(it.is_string() ? std::string(it.as_string()) : "<" + json_str(it) + ">");
  }
  return out;
}

std::set<std::string> code_set(const boost::json::value& v) {
  auto codes = strings_of(field(v, "active_sanction_codes"));
  return {codes.begin(), codes.end()};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Single eligibility

TEST_F(AccountsLobby, EligibilityOfANewAccount) {
  auto a = create_account(svc());
  auto r = eligibility(a.user_id);
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "user_id"), a.user_id);
  EXPECT_EQ(str(v, "plan_code"), "free");
  EXPECT_EQ(field(v, "is_paid"), boost::json::value(false)) << r.body;
  for (const char* k :
       {"can_login", "can_join_games", "can_create_private_games", "can_update_profile"}) {
    EXPECT_EQ(field(v, k), boost::json::value(true)) << k << " " << r.body;
  }
  EXPECT_TRUE(field(v, "active_sanction_codes").is_array() &&
              field(v, "active_sanction_codes").as_array().empty())
      << r.body;
  EXPECT_TRUE(same_json(field(v, "effective_limits"), free_limits())) << r.body;
}

TEST_F(AccountsLobby, EachSanctionSwitchesOffItsCapability) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"login_block", "can_login"},
      {"game_join_block", "can_join_games"},
      {"private_game_create_block", "can_create_private_games"},
      {"profile_update_block", "can_update_profile"},
  };
  for (const auto& [code, flag] : cases) {
    SCOPED_TRACE(code);
    auto a = create_account(svc());
    seed_sanction(svc(), a.user_id, code, "now() + interval '1 hour'");
    auto r = eligibility(a.user_id);
    auto v = expect_json(r, 200);
    for (const auto& [other_code, other_flag] : cases) {
      EXPECT_EQ(field(v, other_flag), boost::json::value(other_flag != flag))
          << other_flag << " " << r.body;
    }
    EXPECT_EQ(code_set(v), std::set<std::string>{code}) << r.body;
  }
}

TEST_F(AccountsLobby, AllSanctionsTogetherAndExpiredOnesIgnored) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block");
  seed_sanction(svc(), a.user_id, "game_join_block");
  seed_sanction(svc(), a.user_id, "private_game_create_block", "now() - interval '1 second'");
  seed_sanction(svc(), a.user_id, "profile_update_block", "now() - interval '1 second'");
  auto r = eligibility(a.user_id);
  auto v = expect_json(r, 200);
  EXPECT_EQ(field(v, "can_login"), boost::json::value(false)) << r.body;
  EXPECT_EQ(field(v, "can_join_games"), boost::json::value(false)) << r.body;
  EXPECT_EQ(field(v, "can_create_private_games"), boost::json::value(true)) << r.body;
  EXPECT_EQ(field(v, "can_update_profile"), boost::json::value(true)) << r.body;
  EXPECT_EQ(code_set(v), (std::set<std::string>{"game_join_block", "login_block"})) << r.body;
}

TEST_F(AccountsLobby, EffectiveLimitsHonourActiveOverridesOnly) {
  auto a = create_account(svc());
  seed_limit(svc(), a.user_id, "max_owned_private_games", 0);
  seed_limit(svc(), a.user_id, "max_active_game_memberships", 12, "now() + interval '1 hour'");
  seed_limit(svc(), a.user_id, "max_pending_public_applications", 50,
             "now() - interval '1 second'");
  auto r = eligibility(a.user_id);
  auto v = expect_json(r, 200);
  EXPECT_TRUE(
      same_json(field(v, "effective_limits"), boost::json::parse(R"({"max_owned_private_games":0,
                                               "max_pending_public_applications":3,
                                               "max_active_game_memberships":12})")))
      << r.body;
}

TEST_F(AccountsLobby, EligibilityOfUnknownOrDeletedUsersIs404AndMalformedIs400) {
  expect_error(eligibility(unknown_id(1)), 404, "subject_not_found");
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  expect_error(eligibility(a.user_id), 404, "subject_not_found");
  expect_error(eligibility(std::string(65, 'u')), 400, "invalid_request");
  expect_error(eligibility("user%2F1"), 400, "invalid_request");
  expect_error(eligibility("user%00"), 400, "invalid_request");
}

// ---------------------------------------------------------------------------------------------
// eligibility:batch

TEST_F(AccountsLobby, EligibilityBatchKeepsFirstOccurrenceOrderAndListsNotFoundOnce) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  auto c = create_account(svc());
  auto d = create_account(svc());
  seed_sanction(svc(), c.user_id, "game_join_block");
  ASSERT_EQ(soft_delete(svc(), d.user_id).status, 200u);
  const std::string u1 = unknown_id(11), u2 = unknown_id(12);
  auto r = batch("eligibility:batch", {b.user_id, u1, a.user_id, b.user_id, d.user_id, u1,
                                       c.user_id, u2, a.user_id, d.user_id});
  auto v = expect_json(r, 200);
  EXPECT_EQ(ids_of(field(v, "items")), (std::vector<std::string>{b.user_id, a.user_id, c.user_id}))
      << r.body;
  EXPECT_EQ(strings_of(field(v, "not_found")), (std::vector<std::string>{u1, d.user_id, u2}))
      << r.body;
  // Each item is exactly the single-user answer.
  if (field(v, "items").is_array()) {
    for (const auto& item : field(v, "items").as_array()) {
      auto single = body_json(eligibility(str(item, "user_id")));
      EXPECT_TRUE(same_json(item, single)) << json_str(item) << " vs " << json_str(single);
    }
  }
}

TEST_F(AccountsLobby, EligibilityBatchOfOneAndOfOnlyUnknownIds) {
  auto a = create_account(svc());
  auto v = expect_json(batch("eligibility:batch", {a.user_id}), 200);
  EXPECT_EQ(ids_of(field(v, "items")), std::vector<std::string>{a.user_id});
  EXPECT_TRUE(field(v, "not_found").is_array() && field(v, "not_found").as_array().empty());

  v = expect_json(batch("eligibility:batch", {unknown_id(21), unknown_id(22), unknown_id(21)}),
                  200);
  EXPECT_TRUE(field(v, "items").is_array() && field(v, "items").as_array().empty());
  EXPECT_EQ(strings_of(field(v, "not_found")),
            (std::vector<std::string>{unknown_id(21), unknown_id(22)}));
}

TEST_F(AccountsLobby, BatchBoundsAreOneToOneHundredEntries) {
  auto a = create_account(svc());
  for (const std::string route : {"eligibility:batch", "profiles:batch"}) {
    SCOPED_TRACE(route);
    std::vector<std::string> hundred{a.user_id};
    for (int i = 1; i < 100; ++i) hundred.push_back(unknown_id(1000 + i));
    auto r = batch(route, hundred);
    auto v = expect_json(r, 200);
    EXPECT_EQ(ids_of(field(v, "items")), std::vector<std::string>{a.user_id});
    EXPECT_EQ(strings_of(field(v, "not_found")).size(), 99u);

    std::vector<std::string> same(100, a.user_id);
    v = expect_json(batch(route, same), 200);
    EXPECT_EQ(ids_of(field(v, "items")), std::vector<std::string>{a.user_id});

    auto too_many = hundred;
    too_many.push_back(unknown_id(5000));
    expect_error(batch(route, too_many), 400, "invalid_request");
    expect_error(batch(route, std::vector<std::string>(101, a.user_id)), 400, "invalid_request");
    expect_error(batch(route, {}), 400, "invalid_request");
  }
}

TEST_F(AccountsLobby, BatchWithAnyMalformedEntryIs400) {
  auto a = create_account(svc());
  for (const std::string route : {"eligibility:batch", "profiles:batch"}) {
    const std::vector<std::string> bodies = {
        R"({"user_ids":[""]})",
        R"({"user_ids":["USER ID"]})",
        R"({"user_ids":[")" + a.user_id + R"(", "bad/id"]})",
        R"({"user_ids":[")" + a.user_id + R"(", ")" + std::string(65, 'a') + R"("]})",
        R"({"user_ids":[")" + a.user_id + R"(", 7]})",
        R"({"user_ids":[")" + a.user_id + R"(", null]})",
        R"({"user_ids":[[")" + a.user_id + R"("]]})",
        R"({"user_ids":[{"user_id":")" + a.user_id + R"("}]})",
        R"({"user_ids":")" + a.user_id + R"("})",
        R"({"user_ids":null})",
        R"({"user_ids":{}})",
        R"({})",
        R"({"user_ids":[")" + a.user_id + R"("],"extra":true})",
        R"({"userIds":[")" + a.user_id + R"("]})",
        R"({"user_ids":["user-\u00e9"]})",
        R"({"user_ids":["a\u0000b"]})",
    };
    for (const auto& body : bodies) {
      SCOPED_TRACE(route + " " + body);
      expect_error(svc().call("POST", kApi + "/users/" + route, body), 400, "invalid_request");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// profiles:batch

TEST_F(AccountsLobby, ProfilesBatchAnswersNameAndCountryInFirstOccurrenceOrder) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  auto d = create_account(svc());
  std::string name = unique_user_name("Lobby");
  ASSERT_EQ(rename(svc(), b.user_id, name).status, 200u);
  ASSERT_EQ(svc()
                .call("PUT", kApi + "/users/" + b.user_id + "/declared-country",
                      R"({"declared_country":"SE"})")
                .status,
            200u);
  ASSERT_EQ(soft_delete(svc(), d.user_id).status, 200u);
  std::string a_name = str(account_of(svc(), a.user_id), "user_name");
  const std::string u = unknown_id(31);

  auto r = batch("profiles:batch", {d.user_id, b.user_id, u, a.user_id, b.user_id, d.user_id, u});
  auto v = expect_json(r, 200);
  const auto& items = field(v, "items");
  ASSERT_TRUE(items.is_array()) << r.body;
  ASSERT_EQ(items.as_array().size(), 2u) << r.body;
  EXPECT_TRUE(same_json(
      items.as_array()[0],
      boost::json::object{{"user_id", b.user_id}, {"user_name", name}, {"declared_country", "SE"}}))
      << r.body;
  EXPECT_TRUE(same_json(items.as_array()[1], boost::json::object{{"user_id", a.user_id},
                                                                 {"user_name", a_name},
                                                                 {"declared_country", nullptr}}))
      << r.body;
  EXPECT_EQ(strings_of(field(v, "not_found")), (std::vector<std::string>{d.user_id, u})) << r.body;
}

TEST_F(AccountsLobby, BatchesNeverWrite) {
  auto a = create_account(svc());
  auto before = write_counts(svc());
  EXPECT_EQ(batch("profiles:batch", {a.user_id, unknown_id(41)}).status, 200u);
  EXPECT_EQ(batch("eligibility:batch", {a.user_id, unknown_id(41)}).status, 200u);
  EXPECT_EQ(eligibility(a.user_id).status, 200u);
  EXPECT_EQ(write_counts(svc()), before);
}
