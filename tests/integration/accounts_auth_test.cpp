// Auth / Session routes (api.md §3): resolution by email, ensure-by-email, exists; the block
// precedence shared by resolution and ensure (docs/api.md).
#include <latch>
#include <set>
#include <thread>

#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;

namespace {

class AccountsAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new RunningService(start_service()); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { expect_alive(*service_); }
  const RunningService& svc() const { return *service_; }
  static RunningService* service_;
};
RunningService* AccountsAuth::service_ = nullptr;

void expect_resolution(const HttpResponse& r, const std::string& kind) {
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), kind) << r.body;
}

void expect_blocked_resolution(const HttpResponse& r, const std::string& reason) {
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), "blocked") << r.body;
  EXPECT_EQ(str(v, "block_reason_code"), reason) << r.body;
}

void expect_blocked_ensure(const HttpResponse& r, const std::string& reason) {
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "outcome"), "blocked") << r.body;
  EXPECT_EQ(str(v, "block_reason_code"), reason) << r.body;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Resolution

TEST_F(AccountsAuth, ResolutionOfAnUnknownEmailIsCreatable) {
  auto before = write_counts(svc());
  auto r = resolve(svc(), unique_email());
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), "creatable") << r.body;
  EXPECT_FALSE(obj(v).contains("user_id")) << r.body;
  EXPECT_EQ(write_counts(svc()), before) << "a resolution never writes";
}

TEST_F(AccountsAuth, ResolutionOfALiveAccountIsExistingWithItsUserId) {
  auto a = create_account(svc());
  auto r = resolve(svc(), a.email);
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), "existing") << r.body;
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
}

TEST_F(AccountsAuth, ResolutionNormalisesTheEmail) {
  auto a = create_account(svc());
  std::string shouted = a.email;
  std::transform(shouted.begin(), shouted.end(), shouted.begin(), ::toupper);
  auto r = resolve(svc(), "  \t" + shouted + " \n");
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), "existing") << r.body;
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
}

TEST_F(AccountsAuth, ResolutionOfABlockedEmailWithoutAccountIsBlockedWithItsReason) {
  auto email = unique_email();
  ASSERT_EQ(block_email(svc(), email, "spam_source").status, 201u);
  expect_blocked_resolution(resolve(svc(), email), "spam_source");
}

TEST_F(AccountsAuth, ResolutionOfASoftDeletedAccountIsBlockedAccountDeleted) {
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  expect_blocked_resolution(resolve(svc(), a.email), "account_deleted");
}

TEST_F(AccountsAuth, ResolutionWithActiveLoginBlockIsBlockedAndNamesTheUser) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block");
  auto r = resolve(svc(), a.email);
  expect_blocked_resolution(r, "login_block");
  EXPECT_EQ(str(body_json(r), "user_id"), a.user_id) << r.body;
}

TEST_F(AccountsAuth, ResolutionWithTimeBoundLoginBlockStillRunningIsBlocked) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block", "now() + interval '1 hour'");
  expect_blocked_resolution(resolve(svc(), a.email), "login_block");
}

TEST_F(AccountsAuth, ResolutionWithExpiredLoginBlockIsExisting) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block", "now() - interval '1 second'");
  auto r = resolve(svc(), a.email);
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "kind"), "existing") << r.body;
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
}

TEST_F(AccountsAuth, ResolutionIgnoresSanctionsOtherThanLoginBlock) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "game_join_block");
  seed_sanction(svc(), a.user_id, "profile_update_block");
  seed_sanction(svc(), a.user_id, "private_game_create_block");
  expect_resolution(resolve(svc(), a.email), "existing");
}

TEST_F(AccountsAuth, BlockPrecedenceBlockedListThenDeletedThenLoginBlock) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block");
  expect_blocked_resolution(resolve(svc(), a.email), "login_block");
  expect_blocked_ensure(ensure(svc(), a.email), "login_block");

  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  // Deleted beats login_block.
  expect_blocked_resolution(resolve(svc(), a.email), "account_deleted");
  expect_blocked_ensure(ensure(svc(), a.email), "account_deleted");

  ASSERT_EQ(block_email(svc(), a.email, "fraud_ring").status, 201u);
  // The blocked list beats both.
  expect_blocked_resolution(resolve(svc(), a.email), "fraud_ring");
  expect_blocked_ensure(ensure(svc(), a.email), "fraud_ring");

  // Unblocking falls back to the next rule.
  EXPECT_EQ(svc().call("DELETE", kApi + "/admin/blocked-emails/" + pct(a.email)).status, 204u);
  expect_blocked_resolution(resolve(svc(), a.email), "account_deleted");
}

TEST_F(AccountsAuth, BlockedListBeatsLoginBlockOnALiveAccount) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block");
  ASSERT_EQ(block_email(svc(), a.email, "chargeback_abuse").status, 201u);
  expect_blocked_resolution(resolve(svc(), a.email), "chargeback_abuse");
  expect_blocked_ensure(ensure(svc(), a.email), "chargeback_abuse");
  // The block list does not touch the account itself.
  EXPECT_EQ(get_account(svc(), a.user_id).status, 200u);
}

// ---------------------------------------------------------------------------------------------
// Ensure

TEST_F(AccountsAuth, EnsureCreatesAnAccountWithDefaultsAndAFreeEntitlement) {
  auto email = unique_email();
  auto r = ensure(svc(), email);
  auto v = expect_json(r, 201);
  EXPECT_EQ(str(v, "outcome"), "created") << r.body;
  std::string id = str(v, "user_id");
  EXPECT_TRUE(is_minted_user_id(id)) << id;

  auto view = body_json(get_account(svc(), id));
  const auto& acc = field(view, "account");
  EXPECT_EQ(str(acc, "user_id"), id);
  EXPECT_EQ(str(acc, "email"), email);
  EXPECT_TRUE(is_minted_user_name(str(acc, "user_name"))) << str(acc, "user_name");
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");
  EXPECT_EQ(str(acc, "declared_country"), "<null>");
  EXPECT_TRUE(is_timestamp(field(acc, "created_at"))) << view;
  EXPECT_EQ(str(acc, "updated_at"), str(acc, "created_at"));
  const auto& ent = field(view, "entitlement");
  EXPECT_EQ(str(ent, "plan_code"), "free");
  EXPECT_EQ(field(ent, "is_paid"), boost::json::value(false)) << view;
  EXPECT_EQ(str(ent, "starts_at"), str(acc, "created_at"));
  EXPECT_EQ(str(ent, "ends_at"), "<null>");
  EXPECT_EQ(count_accounts_with_email(svc(), email), 1);
}

TEST_F(AccountsAuth, EnsureTwiceAnswersExistingWithTheSameIdAndWritesOneEvent) {
  auto a = create_account(svc());
  auto before = write_counts(svc());
  auto r = ensure(svc(), a.email);
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "outcome"), "existing") << r.body;
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(events_for(svc(), a.user_id).size(), 1u);
}

TEST_F(AccountsAuth, EnsureNormalisesTheEmail) {
  auto email = unique_email();
  std::string shouted = email;
  std::transform(shouted.begin(), shouted.end(), shouted.begin(), ::toupper);
  auto r = ensure(svc(), "  " + shouted + "\t");
  auto v = expect_json(r, 201);
  std::string id = str(v, "user_id");
  EXPECT_EQ(str(account_of(svc(), id), "email"), email);
  auto again = expect_json(ensure(svc(), email), 200);
  EXPECT_EQ(str(again, "outcome"), "existing");
  EXPECT_EQ(str(again, "user_id"), id);
  EXPECT_EQ(count_accounts_with_email(svc(), email), 1);
}

TEST_F(AccountsAuth, EnsureWritesOneUserCreatedLifecycleEventWithTheCallersTraceId) {
  auto email = unique_email();
  std::string trace;
  auto headers = trace_headers(trace);
  auto r = ensure(svc(), email, headers);
  auto v = expect_json(r, 201);
  std::string id = str(v, "user_id");
  auto acc = account_of(svc(), id);

  auto events = events_for(svc(), id);
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.event_type, "user.created");
  EXPECT_EQ(e.stream, "lifecycle");
  EXPECT_EQ(e.trace_id, trace);
  EXPECT_EQ(str(e.payload, "user_id"), id) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "email"), email) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "user_name"), str(acc, "user_name")) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "preferred_language"), "en") << e.raw_payload;
  EXPECT_EQ(str(e.payload, "time_zone"), "UTC") << e.raw_payload;
  EXPECT_EQ(str(e.payload, "created_at"), str(acc, "created_at")) << e.raw_payload;
}

TEST_F(AccountsAuth, EnsureWithoutTraceparentStillRecordsAMintedTraceId) {
  auto a = create_account(svc());
  auto events = events_for(svc(), a.user_id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(std::regex_match(events[0].trace_id, std::regex("^[0-9a-f]{32}$")))
      << events[0].trace_id;
  EXPECT_NE(events[0].trace_id, std::string(32, '0'));
}

TEST_F(AccountsAuth, EnsureUsesTheRegistrationContext) {
  auto a = create_account(
      svc(), "ctx",
      boost::json::object{{"preferred_language", "pt-BR"}, {"time_zone", "America/Sao_Paulo"}});
  auto acc = account_of(svc(), a.user_id);
  EXPECT_EQ(str(acc, "preferred_language"), "pt-BR");
  EXPECT_EQ(str(acc, "time_zone"), "America/Sao_Paulo");
  auto events = events_of_type(svc(), a.user_id, "user.created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].payload, "preferred_language"), "pt-BR");
  EXPECT_EQ(str(events[0].payload, "time_zone"), "America/Sao_Paulo");
}

TEST_F(AccountsAuth, EnsureRegistrationContextFieldsAreEachOptional) {
  auto only_zone =
      create_account(svc(), "zone", boost::json::object{{"time_zone", "Europe/Berlin"}});
  auto acc = account_of(svc(), only_zone.user_id);
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "Europe/Berlin");

  auto only_lang = create_account(svc(), "lang", boost::json::object{{"preferred_language", "de"}});
  acc = account_of(svc(), only_lang.user_id);
  EXPECT_EQ(str(acc, "preferred_language"), "de");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");

  auto empty = create_account(svc(), "empty", boost::json::object{});
  acc = account_of(svc(), empty.user_id);
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");
}

TEST_F(AccountsAuth, EnsureRejectsAnInvalidRegistrationContextAndCreatesNothing) {
  const std::vector<boost::json::value> bad = {
      boost::json::object{{"preferred_language", "EN"}},
      boost::json::object{{"preferred_language", "english"}},
      boost::json::object{{"preferred_language", "pt-br"}},
      boost::json::object{{"preferred_language", ""}},
      boost::json::object{{"preferred_language", nullptr}},
      boost::json::object{{"preferred_language", 7}},
      boost::json::object{{"time_zone", "Mars/Olympus_Mons"}},
      boost::json::object{{"time_zone", ""}},
      boost::json::object{{"time_zone", "../../../etc/passwd"}},
      boost::json::object{{"time_zone", nullptr}},
      boost::json::object{{"time_zone", boost::json::array{"UTC"}}},
      boost::json::object{{"timezone", "UTC"}},
      boost::json::object{{"preferred_language", "de"}, {"country", "DE"}},
      boost::json::array{},
      "en",
      42,
  };
  for (const auto& ctx : bad) {
    SCOPED_TRACE(json_str(ctx));
    auto email = unique_email();
    auto before = write_counts(svc());
    auto r = post_json(svc(), "/users/ensure-by-email",
                       {{"email", email}, {"registration_context", ctx}});
    expect_error(r, 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
    expect_resolution(resolve(svc(), email), "creatable");
  }
}

TEST_F(AccountsAuth, EnsureOfABlockedEmailAnswersBlockedAndCreatesNothing) {
  auto email = unique_email();
  ASSERT_EQ(block_email(svc(), email, "disposable_domain").status, 201u);
  auto before = write_counts(svc());
  auto r = ensure(svc(), email);
  expect_blocked_ensure(r, "disposable_domain");
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(count_accounts_with_email(svc(), email), 0);
}

TEST_F(AccountsAuth, EnsureOfASoftDeletedAccountAnswersBlockedAccountDeleted) {
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  auto before = write_counts(svc());
  expect_blocked_ensure(ensure(svc(), a.email), "account_deleted");
  EXPECT_EQ(write_counts(svc()), before);
  EXPECT_EQ(count_accounts_with_email(svc(), a.email), 1);
}

TEST_F(AccountsAuth, EnsureWithActiveLoginBlockAnswersBlockedWithUserId) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block", "now() + interval '1 day'");
  auto r = ensure(svc(), a.email);
  expect_blocked_ensure(r, "login_block");
  EXPECT_EQ(str(body_json(r), "user_id"), a.user_id) << r.body;
}

TEST_F(AccountsAuth, EnsureWithExpiredLoginBlockAnswersExisting) {
  auto a = create_account(svc());
  seed_sanction(svc(), a.user_id, "login_block", "now() - interval '1 second'");
  auto v = expect_json(ensure(svc(), a.email), 200);
  EXPECT_EQ(str(v, "outcome"), "existing");
  EXPECT_EQ(str(v, "user_id"), a.user_id);
}

TEST_F(AccountsAuth, ConcurrentEnsuresForOneNewEmailCreateExactlyOneAccount) {
  constexpr int kThreads = 32;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto email = unique_email("race");
    std::vector<HttpClient> clients;
    for (int i = 0; i < kThreads; ++i) clients.emplace_back(svc().port);
    std::vector<HttpResponse> responses(kThreads);
    std::vector<std::string> failures(kThreads);
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    const std::string body = json_str({{"email", email}});
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        try {
          responses[i] = clients[i].request("POST", kApi + "/users/ensure-by-email", body);
        } catch (const std::exception& e) {
          failures[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();

    std::set<std::string> ids;
    int created = 0;
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(failures[i].empty()) << failures[i];
      const auto& r = responses[i];
      ASSERT_TRUE(r.status == 200u || r.status == 201u) << r.status << " " << r.body;
      auto v = body_json(r);
      if (r.status == 201u) {
        ++created;
        EXPECT_EQ(str(v, "outcome"), "created");
      } else {
        EXPECT_EQ(str(v, "outcome"), "existing") << r.body;
      }
      ids.insert(str(v, "user_id"));
    }
    EXPECT_EQ(created, 1);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_TRUE(is_minted_user_id(*ids.begin()));
    EXPECT_EQ(count_accounts_with_email(svc(), email), 1);
    auto created_events = events_of_type(svc(), *ids.begin(), "user.created");
    EXPECT_EQ(created_events.size(), 1u);
    EXPECT_EQ(events_for(svc(), *ids.begin()).size(), 1u);
  }
}

TEST_F(AccountsAuth, DifferentEmailsGetDifferentIdsAndNames) {
  std::set<std::string> ids, names;
  for (int i = 0; i < 10; ++i) {
    auto a = create_account(svc());
    ids.insert(a.user_id);
    names.insert(str(account_of(svc(), a.user_id), "user_name"));
  }
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(names.size(), 10u);
}

TEST_F(AccountsAuth, InvalidEmailsAre400ForResolutionAndEnsure) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "plain",
      "@example.com",
      "a@",
      "a@example",
      "a@@example.com",
      "a@b@example.com",
      "a@example..com",
      "a@.example.com",
      "a@example.com.",
      "a b@example.com",
      "a@exa mple.com",
      std::string(65, 'a') + "@example.com",
      "a@" + std::string(250, 'b') + ".com",
      "a%40example.com",
      std::string("a\0b@example.com", 15),
      "a\x01@example.com",
  };
  for (const auto& email : bad) {
    SCOPED_TRACE(email);
    auto before = write_counts(svc());
    expect_error(resolve(svc(), email), 400, "invalid_request");
    expect_error(ensure(svc(), email), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
}

TEST_F(AccountsAuth, EmailLengthBoundsAreInclusive) {
  // 64-char local part and 254 chars overall are fine.
  std::string local = std::string(60, 'x') + std::to_string(1000 + next_counter() % 9000);
  ASSERT_EQ(local.size(), 64u);
  std::string domain = "@" + std::string(63, 'd') + "." + std::string(63, 'e') + "." +
                       std::string(254 - 64 - 1 - 63 - 1 - 63 - 1 - 4, 'f') + ".com";
  std::string email = local + domain;
  ASSERT_EQ(email.size(), 254u);
  auto r = ensure(svc(), email);
  EXPECT_EQ(r.status, 201u) << r.body;
  expect_error(ensure(svc(), "y" + email), 400, "invalid_request");
}

// ---------------------------------------------------------------------------------------------
// Exists

TEST_F(AccountsAuth, ExistsIsTrueForALiveAccount) {
  auto a = create_account(svc());
  auto r = svc().call("GET", kApi + "/users/" + a.user_id + "/exists");
  auto v = expect_json(r, 200);
  EXPECT_EQ(v, boost::json::parse(R"({"exists":true})")) << r.body;
}

TEST_F(AccountsAuth, ExistsIsFalseForAnUnknownWellFormedId) {
  for (std::string id : std::vector<std::string>{"user-01jd0000000000000000000000", "u1",
                                                 std::string(64, 'a'), "A_b-9"}) {
    auto r = svc().call("GET", kApi + "/users/" + id + "/exists");
    auto v = expect_json(r, 200);
    EXPECT_EQ(v, boost::json::parse(R"({"exists":false})")) << id << " " << r.body;
  }
}

TEST_F(AccountsAuth, ExistsIsFalseForASoftDeletedAccount) {
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  auto v = expect_json(svc().call("GET", kApi + "/users/" + a.user_id + "/exists"), 200);
  EXPECT_EQ(v, boost::json::parse(R"({"exists":false})"));
}

TEST_F(AccountsAuth, ExistsWithAMalformedIdIs400) {
  for (std::string id : {std::string(65, 'a'), std::string("a.b"), std::string("a%20b"),
                         std::string("%C3%A9"), std::string("a%2Fb"), std::string("a%00")}) {
    SCOPED_TRACE(id);
    expect_error(svc().call("GET", kApi + "/users/" + id + "/exists"), 400, "invalid_request");
  }
}
