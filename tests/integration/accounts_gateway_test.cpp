// Edge Gateway and Geo routes (api.md §4, §5): the account view, profile and settings patches,
// the declared country; their events and the no-op rules of docs/api.md.
#include <latch>
#include <thread>

#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;

namespace {

class AccountsGateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new RunningService(start_service()); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { expect_alive(*service_); }
  const RunningService& svc() const { return *service_; }
  static RunningService* service_;

  HttpResponse patch_settings(const std::string& id, const boost::json::value& body,
                              std::map<std::string, std::string> headers = {}) const {
    return svc().call("PATCH", kApi + "/users/" + id + "/settings", json_str(body),
                      std::move(headers));
  }
  HttpResponse put_country(const std::string& id, const boost::json::value& country,
                           std::map<std::string, std::string> headers = {}) const {
    return svc().call("PUT", kApi + "/users/" + id + "/declared-country",
                      json_str({{"declared_country", country}}), std::move(headers));
  }
  std::string user_name_of(const std::string& id) const {
    return str(account_of(svc(), id), "user_name");
  }
  std::string updated_at_of(const std::string& id) const {
    return str(account_of(svc(), id), "updated_at");
  }
};
RunningService* AccountsGateway::service_ = nullptr;

const std::string kUnknownId = "user-01jd00000000000000000000zz";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Account view

TEST_F(AccountsGateway, AccountViewOfANewAccount) {
  auto a = create_account(svc());
  auto r = get_account(svc(), a.user_id);
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  const auto& acc = field(v, "account");
  EXPECT_EQ(str(acc, "user_id"), a.user_id);
  EXPECT_EQ(str(acc, "email"), a.email);
  EXPECT_TRUE(is_minted_user_name(str(acc, "user_name")));
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");
  EXPECT_TRUE(field(acc, "declared_country").is_null());
  const auto& ent = field(v, "entitlement");
  EXPECT_EQ(str(ent, "plan_code"), "free");
  EXPECT_EQ(field(ent, "is_paid"), boost::json::value(false));
  EXPECT_EQ(str(ent, "starts_at"), str(acc, "created_at"));
  EXPECT_TRUE(field(ent, "ends_at").is_null());
  EXPECT_TRUE(field(v, "active_sanctions").is_array() &&
              field(v, "active_sanctions").as_array().empty());
  EXPECT_TRUE(field(v, "active_limits").is_array() && field(v, "active_limits").as_array().empty());
  EXPECT_TRUE(same_json(field(v, "effective_limits"), free_limits())) << r.body;
}

TEST_F(AccountsGateway, AccountViewOfAnUnknownUserIs404) {
  expect_error(get_account(svc(), kUnknownId), 404, "subject_not_found");
  expect_error(get_account(svc(), "x"), 404, "subject_not_found");
}

TEST_F(AccountsGateway, AccountViewWithAMalformedIdIs400) {
  expect_error(get_account(svc(), std::string(65, 'a')), 400, "invalid_request");
  expect_error(get_account(svc(), "a%20b"), 400, "invalid_request");
  expect_error(get_account(svc(), "a.b"), 400, "invalid_request");
}

TEST_F(AccountsGateway, AccountViewListsActiveSanctionsSortedAndHidesExpiredOnes) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block", "'2099-01-02T03:04:05.678Z'",
                "rude_name");
  seed_sanction(svc(), a.user_id, "game_join_block", "NULL", "cheating");
  seed_sanction(svc(), a.user_id, "login_block", "now() - interval '1 second'", "old_ban");
  auto r = get_account(svc(), a.user_id);
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  const auto& s = field(v, "active_sanctions");
  ASSERT_TRUE(s.is_array());
  ASSERT_EQ(s.as_array().size(), 2u) << r.body;
  EXPECT_EQ(str(s.as_array()[0], "sanction_code"), "game_join_block");
  EXPECT_EQ(str(s.as_array()[0], "reason_code"), "cheating");
  EXPECT_TRUE(is_timestamp(field(s.as_array()[0], "applied_at")));
  EXPECT_TRUE(has(s.as_array()[0], "expires_at") && field(s.as_array()[0], "expires_at").is_null());
  EXPECT_EQ(str(s.as_array()[1], "sanction_code"), "profile_update_block");
  EXPECT_EQ(str(s.as_array()[1], "reason_code"), "rude_name");
  EXPECT_EQ(str(s.as_array()[1], "expires_at"), "2099-01-02T03:04:05.678Z");
}

TEST_F(AccountsGateway, AccountViewListsActiveLimitsAndTheirEffect) {
  auto a = create_account(svc());
  seed_limit(svc(), a.user_id, "max_owned_private_games", 2, "NULL", "trusted_host");
  seed_limit(svc(), a.user_id, "max_active_game_memberships", 7, "'2099-05-06T07:08:09.010Z'",
             "tournament");
  seed_limit(svc(), a.user_id, "max_pending_public_applications", 9, "now() - interval '1 second'",
             "expired_bonus");
  auto r = get_account(svc(), a.user_id);
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  const auto& l = field(v, "active_limits");
  ASSERT_TRUE(l.is_array());
  ASSERT_EQ(l.as_array().size(), 2u) << r.body;
  EXPECT_EQ(str(l.as_array()[0], "limit_code"), "max_active_game_memberships");
  EXPECT_TRUE(same_json(field(l.as_array()[0], "value"), 7));
  EXPECT_EQ(str(l.as_array()[0], "reason_code"), "tournament");
  EXPECT_EQ(str(l.as_array()[0], "expires_at"), "2099-05-06T07:08:09.010Z");
  EXPECT_TRUE(is_timestamp(field(l.as_array()[0], "applied_at")));
  EXPECT_EQ(str(l.as_array()[1], "limit_code"), "max_owned_private_games");
  EXPECT_TRUE(same_json(field(l.as_array()[1], "value"), 2));
  EXPECT_TRUE(field(l.as_array()[1], "expires_at").is_null());
  EXPECT_TRUE(
      same_json(field(v, "effective_limits"), boost::json::parse(R"({"max_owned_private_games":2,
                                               "max_pending_public_applications":3,
                                               "max_active_game_memberships":7})")))
      << r.body;
}

// ---------------------------------------------------------------------------------------------
// Profile

TEST_F(AccountsGateway, RenameChangesTheNameAndWritesOneProfileChangedEvent) {
  auto a = create_account(svc());
  std::string old_name = user_name_of(a.user_id);
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  std::string name = unique_user_name("Ace");
  std::string trace;
  auto r = rename(svc(), a.user_id, name, trace_headers(trace));
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  EXPECT_EQ(str(field(v, "account"), "user_name"), name);
  EXPECT_EQ(str(field(v, "account"), "user_id"), a.user_id);
  EXPECT_GT(str(field(v, "account"), "updated_at"), aged);
  EXPECT_EQ(user_name_of(a.user_id), name);

  auto events = events_for(svc(), a.user_id);
  ASSERT_EQ(events.size(), 2u);  // user.created, user.profile.changed
  const auto& e = events[1];
  EXPECT_EQ(e.event_type, "user.profile.changed");
  EXPECT_EQ(e.stream, "domain");
  EXPECT_EQ(e.trace_id, trace);
  EXPECT_EQ(str(e.payload, "user_id"), a.user_id) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "user_name"), name) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "previous_user_name"), old_name) << e.raw_payload;
}

TEST_F(AccountsGateway, RenameToTheSameNameIsANoOp) {
  auto a = create_account(svc());
  std::string name = unique_user_name("Same");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  auto events_before = events_for(svc(), a.user_id).size();
  auto r = rename(svc(), a.user_id, name);
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  EXPECT_EQ(str(field(v, "account"), "user_name"), name);
  EXPECT_EQ(str(field(v, "account"), "updated_at"), aged);
  EXPECT_EQ(updated_at_of(a.user_id), aged);
  EXPECT_EQ(events_for(svc(), a.user_id).size(), events_before);
}

TEST_F(AccountsGateway, RenameToTheMintedNameIsANoOp) {
  auto a = create_account(svc());
  std::string minted = user_name_of(a.user_id);
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  auto v = expect_json(rename(svc(), a.user_id, minted), 200);
  EXPECT_EQ(str(field(v, "account"), "updated_at"), aged);
  EXPECT_EQ(events_for(svc(), a.user_id).size(), 1u);
}

TEST_F(AccountsGateway, RenameToOwnNameInAnotherCaseIsAChange) {
  auto a = create_account(svc());
  std::string name = unique_user_name("mixed");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  auto v = expect_json(rename(svc(), a.user_id, upper), 200);
  EXPECT_EQ(str(field(v, "account"), "user_name"), upper);
  auto events = events_of_type(svc(), a.user_id, "user.profile.changed");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(str(events[1].payload, "user_name"), upper);
  EXPECT_EQ(str(events[1].payload, "previous_user_name"), name);
}

TEST_F(AccountsGateway, RenameToANameTakenInAnyCaseIs409Conflict) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  std::string name = unique_user_name("Taken");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  std::string b_name = user_name_of(b.user_id);
  std::string lower = name, upper = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  for (const auto& n : {name, lower, upper}) {
    SCOPED_TRACE(n);
    auto before = write_counts(svc());
    expect_error(rename(svc(), b.user_id, n), 409, "conflict");
    EXPECT_EQ(write_counts(svc()), before);
  }
  EXPECT_EQ(user_name_of(b.user_id), b_name);
  EXPECT_TRUE(events_of_type(svc(), b.user_id, "user.profile.changed").empty());
}

TEST_F(AccountsGateway, RenameToAnotherAccountsMintedNameIs409Conflict) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  std::string a_name = user_name_of(a.user_id);
  std::string upper = a_name;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  expect_error(rename(svc(), b.user_id, a_name), 409, "conflict");
  expect_error(rename(svc(), b.user_id, upper), 409, "conflict");
}

TEST_F(AccountsGateway, RenameToTheNameOfASoftDeletedAccountIs409Conflict) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  std::string name = unique_user_name("Ghost");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  expect_error(rename(svc(), b.user_id, name), 409, "conflict");
  expect_error(rename(svc(), b.user_id, lower), 409, "conflict");
}

TEST_F(AccountsGateway, RenameRejectsReservedNamesInAnyCase) {
  auto a = create_account(svc());
  for (std::string n : {"admin", "ADMIN", "Administrator", "system", "Support", "moderator", "ROOT",
                        "root", "galaxy", "GaLaXy"}) {
    SCOPED_TRACE(n);
    auto before = write_counts(svc());
    expect_error(rename(svc(), a.user_id, n), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
}

TEST_F(AccountsGateway, RenameEnforcesTheUserNameGrammar) {
  auto a = create_account(svc());
  const std::vector<std::string> bad = {"",
                                        "ab",
                                        "A1",
                                        std::string(25, 'a'),
                                        "1abc",
                                        "_abc",
                                        "-abc",
                                        "ab c",
                                        "abc!",
                                        "abc.def",
                                        "ab\xc3\xa4"
                                        "cd",
                                        "abc\ndef",
                                        " abcd",
                                        "abcd ",
                                        "abc@def",
                                        "abc/def",
                                        "abc%41"};
  for (const auto& n : bad) {
    SCOPED_TRACE(n);
    auto before = write_counts(svc());
    expect_error(rename(svc(), a.user_id, n), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
}

TEST_F(AccountsGateway, RenameAcceptsTheGrammarBoundaries) {
  auto a = create_account(svc());
  // 3 and 24 characters, underscores, hyphens, digits and upper case.
  int n = next_counter();
  std::string three = std::string(1, static_cast<char>('A' + n % 26)) +
                      static_cast<char>('a' + (n / 26) % 26) + std::to_string(n % 10);
  std::string long24 = "Z" + std::to_string(100000 + n) + "_-";
  long24 += std::string(24 - long24.size(), 'q');
  ASSERT_EQ(long24.size(), 24u);
  auto r3 = rename(svc(), a.user_id, three);
  EXPECT_EQ(r3.status, 200u) << three << " " << r3.body;
  EXPECT_EQ(user_name_of(a.user_id), three);
  auto r24 = rename(svc(), a.user_id, long24);
  EXPECT_EQ(r24.status, 200u) << r24.body;
  EXPECT_EQ(user_name_of(a.user_id), long24);
}

TEST_F(AccountsGateway, RenameWithActiveProfileUpdateBlockIs409PolicyDenied) {
  auto a = create_account(svc());
  auto other = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block", "now() + interval '1 hour'");
  std::string old_name = user_name_of(a.user_id);
  auto before = write_counts(svc());
  expect_error(rename(svc(), a.user_id, unique_user_name("Blocked")), 409, "policy_denied");
  // The policy is checked before the uniqueness conflict.
  expect_error(rename(svc(), a.user_id, user_name_of(other.user_id)), 409, "policy_denied");
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(user_name_of(a.user_id), old_name);
}

TEST_F(AccountsGateway, RenameWithExpiredProfileUpdateBlockIsAllowed) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block", "now() - interval '1 second'");
  std::string name = unique_user_name("Free");
  EXPECT_EQ(rename(svc(), a.user_id, name).status, 200u);
  EXPECT_EQ(user_name_of(a.user_id), name);
}

TEST_F(AccountsGateway, RenameIsNotBlockedByOtherSanctions) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block");
  seed_sanction(svc(), a.user_id, "game_join_block");
  EXPECT_EQ(rename(svc(), a.user_id, unique_user_name("Other")).status, 200u);
}

TEST_F(AccountsGateway, RenameOfAnUnknownUserIs404) {
  expect_error(rename(svc(), kUnknownId, unique_user_name("Nobody")), 404, "subject_not_found");
}

TEST_F(AccountsGateway, RenameWithAnEmptyPatchIs400) {
  auto a = create_account(svc());
  expect_error(svc().call("PATCH", kApi + "/users/" + a.user_id + "/profile", "{}"), 400,
               "invalid_request");
  expect_error(
      svc().call("PATCH", kApi + "/users/" + a.user_id + "/profile", R"({"user_name":null})"), 400,
      "invalid_request");
}

TEST_F(AccountsGateway, ConcurrentRenamesOfTwoUsersToOneNameLetExactlyOneWin) {
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto a = create_account(svc());
    auto b = create_account(svc());
    std::string name = unique_user_name("Race");
    // Both names differ in case only: the clash is case-insensitive.
    std::string name_b = name;
    std::transform(name_b.begin(), name_b.end(), name_b.begin(), ::tolower);
    HttpClient ca(svc().port), cb(svc().port);
    HttpResponse ra, rb;
    std::string fa, fb;
    std::latch go(2);
    std::thread ta([&] {
      go.arrive_and_wait();
      try {
        ra = ca.request("PATCH", kApi + "/users/" + a.user_id + "/profile",
                        json_str({{"user_name", name}}));
      } catch (const std::exception& e) {
        fa = e.what();
      }
    });
    std::thread tb([&] {
      go.arrive_and_wait();
      try {
        rb = cb.request("PATCH", kApi + "/users/" + b.user_id + "/profile",
                        json_str({{"user_name", round % 2 ? name_b : name}}));
      } catch (const std::exception& e) {
        fb = e.what();
      }
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(fa.empty() && fb.empty()) << fa << fb;
    ASSERT_TRUE((ra.status == 200u && rb.status == 409u) ||
                (ra.status == 409u && rb.status == 200u))
        << ra.status << " " << ra.body << " / " << rb.status << " " << rb.body;
    const auto& loser = ra.status == 409u ? ra : rb;
    EXPECT_EQ(error_code_of(loser), "conflict") << loser.body;
    auto rows = svc().sql(R"(SELECT user_id FROM "user".accounts WHERE lower(user_name)=lower()" +
                          sql_literal(name) + ")");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], ra.status == 200u ? a.user_id : b.user_id);
    EXPECT_EQ(events_of_type(svc(), a.user_id, "user.profile.changed").size() +
                  events_of_type(svc(), b.user_id, "user.profile.changed").size(),
              1u);
  }
}

// ---------------------------------------------------------------------------------------------
// Settings

TEST_F(AccountsGateway, SettingsChangeWritesOneEventWithCurrentAndPreviousValues) {
  auto a = create_account(svc());
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  std::string trace;
  auto r = patch_settings(a.user_id, {{"preferred_language", "de"}}, trace_headers(trace));
  auto v = expect_json(r, 200);
  expect_account_view_shape(v);
  EXPECT_EQ(str(field(v, "account"), "preferred_language"), "de");
  EXPECT_EQ(str(field(v, "account"), "time_zone"), "UTC");
  EXPECT_GT(str(field(v, "account"), "updated_at"), aged);
  auto events = events_of_type(svc(), a.user_id, "user.settings.changed");
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.stream, "domain");
  EXPECT_EQ(e.trace_id, trace);
  EXPECT_EQ(str(e.payload, "user_id"), a.user_id) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "preferred_language"), "de") << e.raw_payload;
  EXPECT_EQ(str(e.payload, "time_zone"), "UTC") << e.raw_payload;
  EXPECT_EQ(str(e.payload, "previous_preferred_language"), "en") << e.raw_payload;
  EXPECT_EQ(str(e.payload, "previous_time_zone"), "UTC") << e.raw_payload;

  // Time zone only; then both at once.
  v = expect_json(patch_settings(a.user_id, {{"time_zone", "Asia/Tokyo"}}), 200);
  EXPECT_EQ(str(field(v, "account"), "preferred_language"), "de");
  EXPECT_EQ(str(field(v, "account"), "time_zone"), "Asia/Tokyo");
  v = expect_json(
      patch_settings(a.user_id, {{"preferred_language", "pt-BR"}, {"time_zone", "Europe/Berlin"}}),
      200);
  EXPECT_EQ(str(field(v, "account"), "preferred_language"), "pt-BR");
  EXPECT_EQ(str(field(v, "account"), "time_zone"), "Europe/Berlin");
  events = events_of_type(svc(), a.user_id, "user.settings.changed");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[1].payload, "preferred_language"), "de");
  EXPECT_EQ(str(events[1].payload, "time_zone"), "Asia/Tokyo");
  EXPECT_EQ(str(events[1].payload, "previous_preferred_language"), "de");
  EXPECT_EQ(str(events[1].payload, "previous_time_zone"), "UTC");
  EXPECT_EQ(str(events[2].payload, "preferred_language"), "pt-BR");
  EXPECT_EQ(str(events[2].payload, "time_zone"), "Europe/Berlin");
  EXPECT_EQ(str(events[2].payload, "previous_preferred_language"), "de");
  EXPECT_EQ(str(events[2].payload, "previous_time_zone"), "Asia/Tokyo");
}

TEST_F(AccountsGateway, SettingsPatchThatChangesNothingWritesNoEvent) {
  auto a = create_account(
      svc(), "", boost::json::object{{"preferred_language", "fr"}, {"time_zone", "Europe/Paris"}});
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  for (const auto& body :
       {boost::json::value{{"preferred_language", "fr"}},
        boost::json::value{{"time_zone", "Europe/Paris"}},
        boost::json::value{{"preferred_language", "fr"}, {"time_zone", "Europe/Paris"}}}) {
    SCOPED_TRACE(json_str(body));
    auto v = expect_json(patch_settings(a.user_id, body), 200);
    expect_account_view_shape(v);
    EXPECT_EQ(str(field(v, "account"), "updated_at"), aged);
  }
  EXPECT_EQ(updated_at_of(a.user_id), aged);
  EXPECT_TRUE(events_of_type(svc(), a.user_id, "user.settings.changed").empty());
  // One field the same, the other different: a change.
  EXPECT_EQ(patch_settings(a.user_id, {{"preferred_language", "fr"}, {"time_zone", "UTC"}}).status,
            200u);
  auto events = events_of_type(svc(), a.user_id, "user.settings.changed");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].payload, "preferred_language"), "fr");
  EXPECT_EQ(str(events[0].payload, "previous_preferred_language"), "fr");
  EXPECT_EQ(str(events[0].payload, "time_zone"), "UTC");
  EXPECT_EQ(str(events[0].payload, "previous_time_zone"), "Europe/Paris");
}

TEST_F(AccountsGateway, SettingsRejectInvalidValuesAndEmptyPatches) {
  auto a = create_account(svc());
  const std::vector<boost::json::value> bad = {
      boost::json::object{},
      boost::json::object{{"preferred_language", "EN"}},
      boost::json::object{{"preferred_language", "xx-YY-ZZ"}},
      boost::json::object{{"preferred_language", "pt_BR"}},
      boost::json::object{{"preferred_language", nullptr}},
      boost::json::object{{"time_zone", "Europe/Nowhere"}},
      boost::json::object{{"time_zone", "/etc/localtime"}},
      boost::json::object{{"time_zone", nullptr}},
      boost::json::object{{"time_zone", 1}},
      boost::json::object{{"preferred_language", "de"}, {"time_zone", "Nope/Nope"}},
      boost::json::object{{"preferred_language", "de"}, {"user_name", "Someone"}},
  };
  for (const auto& body : bad) {
    SCOPED_TRACE(json_str(body));
    auto before = write_counts(svc());
    expect_error(patch_settings(a.user_id, body), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
  auto acc = account_of(svc(), a.user_id);
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");
}

TEST_F(AccountsGateway, SettingsWithActiveProfileUpdateBlockAre409PolicyDenied) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block");
  auto before = write_counts(svc());
  expect_error(patch_settings(a.user_id, {{"time_zone", "Europe/Berlin"}}), 409, "policy_denied");
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(str(account_of(svc(), a.user_id), "time_zone"), "UTC");
}

TEST_F(AccountsGateway, SettingsOfAnUnknownUserAre404) {
  expect_error(patch_settings(kUnknownId, {{"time_zone", "UTC"}}), 404, "subject_not_found");
}

// ---------------------------------------------------------------------------------------------
// Declared country

TEST_F(AccountsGateway, DeclaredCountrySetChangeAndClearWriteEvents) {
  auto a = create_account(svc());
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  std::string trace;
  auto r = put_country(a.user_id, "DE", trace_headers(trace));
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
  EXPECT_EQ(str(v, "declared_country"), "DE") << r.body;
  EXPECT_TRUE(is_timestamp(field(v, "updated_at"))) << r.body;
  EXPECT_GT(str(v, "updated_at"), aged);
  auto acc = account_of(svc(), a.user_id);
  EXPECT_EQ(str(acc, "declared_country"), "DE");
  EXPECT_EQ(str(acc, "updated_at"), str(v, "updated_at"));

  v = expect_json(put_country(a.user_id, "FR"), 200);
  EXPECT_EQ(str(v, "declared_country"), "FR");
  v = expect_json(put_country(a.user_id, nullptr), 200);
  EXPECT_TRUE(has(v, "declared_country") && field(v, "declared_country").is_null()) << json_str(v);
  EXPECT_TRUE(field(account_of(svc(), a.user_id), "declared_country").is_null());

  auto events = events_of_type(svc(), a.user_id, "user.declared_country.changed");
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) EXPECT_EQ(e.stream, "domain");
  EXPECT_EQ(events[0].trace_id, trace);
  EXPECT_EQ(str(events[0].payload, "user_id"), a.user_id) << events[0].raw_payload;
  EXPECT_EQ(str(events[0].payload, "declared_country"), "DE") << events[0].raw_payload;
  EXPECT_TRUE(has(events[0].payload, "previous_declared_country") &&
              field(events[0].payload, "previous_declared_country").is_null())
      << events[0].raw_payload;
  EXPECT_EQ(str(events[1].payload, "declared_country"), "FR");
  EXPECT_EQ(str(events[1].payload, "previous_declared_country"), "DE");
  EXPECT_TRUE(has(events[2].payload, "declared_country") &&
              field(events[2].payload, "declared_country").is_null())
      << events[2].raw_payload;
  EXPECT_EQ(str(events[2].payload, "previous_declared_country"), "FR");
}

TEST_F(AccountsGateway, DeclaredCountrySameValueIsANoOp) {
  auto a = create_account(svc());
  // null → null on a fresh account.
  age_updated_at(svc(), a.user_id);
  std::string aged = updated_at_of(a.user_id);
  auto v = expect_json(put_country(a.user_id, nullptr), 200);
  EXPECT_EQ(str(v, "updated_at"), aged);
  ASSERT_EQ(put_country(a.user_id, "JP").status, 200u);
  age_updated_at(svc(), a.user_id);
  aged = updated_at_of(a.user_id);
  v = expect_json(put_country(a.user_id, "JP"), 200);
  EXPECT_EQ(str(v, "declared_country"), "JP");
  EXPECT_EQ(str(v, "updated_at"), aged);
  EXPECT_EQ(updated_at_of(a.user_id), aged);
  EXPECT_EQ(events_of_type(svc(), a.user_id, "user.declared_country.changed").size(), 1u);
}

TEST_F(AccountsGateway, DeclaredCountryRejectsCodesThatAreNotAssignedUpperCaseAlpha2) {
  auto a = create_account(svc());
  ASSERT_EQ(put_country(a.user_id, "DE").status, 200u);
  const std::vector<boost::json::value> bad = {"de",
                                               "De",
                                               "XX",
                                               "UK",
                                               "XK",
                                               "EU",
                                               "DEU",
                                               "D",
                                               "",
                                               " DE",
                                               "DE ",
                                               "D1",
                                               49,
                                               true,
                                               boost::json::array{"DE"},
                                               boost::json::object{}};
  for (const auto& c : bad) {
    SCOPED_TRACE(json_str(c));
    auto before = write_counts(svc());
    expect_error(put_country(a.user_id, c), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
  auto before = write_counts(svc());
  // The key is required; unknown keys are rejected.
  expect_error(svc().call("PUT", kApi + "/users/" + a.user_id + "/declared-country", "{}"), 400,
               "invalid_request");
  expect_error(svc().call("PUT", kApi + "/users/" + a.user_id + "/declared-country",
                          R"({"declared_country":"FR","country":"FR"})"),
               400, "invalid_request");
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(str(account_of(svc(), a.user_id), "declared_country"), "DE");
}

TEST_F(AccountsGateway, DeclaredCountryIsNotSubjectToProfileUpdateBlock) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block");
  auto v = expect_json(put_country(a.user_id, "BR"), 200);
  EXPECT_EQ(str(v, "declared_country"), "BR");
  EXPECT_EQ(events_of_type(svc(), a.user_id, "user.declared_country.changed").size(), 1u);
}

TEST_F(AccountsGateway, DeclaredCountryOfAnUnknownUserIs404) {
  expect_error(put_country(kUnknownId, "DE"), 404, "subject_not_found");
}

TEST_F(AccountsGateway, DeclaredCountryShowsInTheAccountView) {
  auto a = create_account(svc());
  ASSERT_EQ(put_country(a.user_id, "NZ").status, 200u);
  auto v = expect_json(get_account(svc(), a.user_id), 200);
  EXPECT_EQ(str(field(v, "account"), "declared_country"), "NZ");
}

// ---------------------------------------------------------------------------------------------
// Soft-deleted accounts

TEST_F(AccountsGateway, EverySelfServiceRouteAnswers404ForASoftDeletedAccount) {
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  auto before = write_counts(svc());
  expect_error(get_account(svc(), a.user_id), 404, "subject_not_found");
  expect_error(rename(svc(), a.user_id, unique_user_name("Dead")), 404, "subject_not_found");
  expect_error(patch_settings(a.user_id, {{"time_zone", "Europe/Berlin"}}), 404,
               "subject_not_found");
  expect_error(put_country(a.user_id, "DE"), 404, "subject_not_found");
  expect_error(put_country(a.user_id, nullptr), 404, "subject_not_found");
  EXPECT_EQ(write_counts(svc()), before);
}

TEST_F(AccountsGateway, SoftDeletedAccountWithProfileUpdateBlockIs404NotPolicyDenied) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "profile_update_block");
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  expect_error(rename(svc(), a.user_id, unique_user_name("Dead")), 404, "subject_not_found");
  expect_error(patch_settings(a.user_id, {{"preferred_language", "de"}}), 404, "subject_not_found");
}
