// Trusted admin routes (docs/api.md §8): soft delete, blocked emails, the three lookups.
#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;

namespace {

class AccountsAdmin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new RunningService(start_service()); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override { expect_alive(*service_); }
  const RunningService& svc() const { return *service_; }
  static RunningService* service_;

  HttpResponse lookup_id(const std::string& id) const {
    return svc().call("GET", kApi + "/admin/users/" + id);
  }
  HttpResponse lookup_email(const std::string& encoded) const {
    return svc().call("GET", kApi + "/admin/users/by-email/" + encoded);
  }
  HttpResponse lookup_name(const std::string& encoded) const {
    return svc().call("GET", kApi + "/admin/users/by-user-name/" + encoded);
  }
  HttpResponse blocked(const std::string& method, const std::string& encoded,
                       const std::string& body = "") const {
    return svc().call(method, kApi + "/admin/blocked-emails/" + encoded, body);
  }
  HttpResponse delete_with(const std::string& id, const boost::json::value& body) const {
    return post_json(svc(), "/admin/users/" + id + "/delete", body);
  }
};
RunningService* AccountsAdmin::service_ = nullptr;

const std::string kUnknownId = "user-01jd00000000000000000000yy";

// The admin view is the self-service view plus "deleted_at".
boost::json::value without_deleted_at(boost::json::value v) {
  if (v.is_object()) v.as_object().erase("deleted_at");
  return v;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Soft delete

TEST_F(AccountsAdmin, SoftDeleteAnswersDeletedAtAndWritesOneUserDeletedEvent) {
  auto a = create_account(svc());
  std::string trace;
  auto r = post_json(svc(), "/admin/users/" + a.user_id + "/delete",
                     {{"reason_code", "gdpr_erasure"}, {"actor", actor("admin", "ops-7")}},
                     trace_headers(trace));
  auto v = expect_json(r, 200);
  EXPECT_EQ(str(v, "user_id"), a.user_id) << r.body;
  EXPECT_TRUE(is_timestamp(field(v, "deleted_at"))) << r.body;

  auto events = events_of_type(svc(), a.user_id, "user.deleted");
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.stream, "lifecycle");
  EXPECT_EQ(e.trace_id, trace);
  EXPECT_EQ(str(e.payload, "user_id"), a.user_id) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "deleted_at"), str(v, "deleted_at")) << e.raw_payload;
  EXPECT_EQ(str(e.payload, "reason_code"), "gdpr_erasure") << e.raw_payload;
  EXPECT_TRUE(same_json(field(e.payload, "actor"), actor("admin", "ops-7"))) << e.raw_payload;
  // The account row stays (soft delete).
  EXPECT_EQ(count_accounts_with_email(svc(), a.email), 1);
}

TEST_F(AccountsAdmin, SoftDeleteAgainAnswersTheSameDeletedAtAndWritesNoSecondEvent) {
  auto a = create_account(svc());
  auto first = expect_json(soft_delete(svc(), a.user_id, "first_reason"), 200);
  auto before = write_counts(svc());
  auto second = expect_json(
      delete_with(a.user_id, {{"reason_code", "second_reason"}, {"actor", actor("system", "job")}}),
      200);
  EXPECT_EQ(str(second, "user_id"), a.user_id);
  EXPECT_EQ(str(second, "deleted_at"), str(first, "deleted_at"));
  EXPECT_EQ(write_counts(svc()), before);
  auto events = events_of_type(svc(), a.user_id, "user.deleted");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].payload, "reason_code"), "first_reason");
}

TEST_F(AccountsAdmin, SoftDeleteOfAnUnknownUserIs404AndOfAMalformedIdIs400) {
  auto before = write_counts(svc());
  auto body = boost::json::object{{"reason_code", "x_y"}, {"actor", actor()}};
  expect_error(delete_with(kUnknownId, body), 404, "subject_not_found");
  expect_error(delete_with(std::string(65, 'k'), body), 400, "invalid_request");
  expect_error(delete_with("a%2Fb", body), 400, "invalid_request");
  EXPECT_EQ(write_counts(svc()), before);
}

TEST_F(AccountsAdmin, SoftDeleteAcceptsEveryActorTypeAndTheLengthBounds) {
  for (const std::string type : {"admin", "system", "billing"}) {
    auto a = create_account(svc());
    auto r = delete_with(a.user_id, {{"reason_code", std::string(64, 'r')},
                                     {"actor", actor(type, std::string(128, 'i'))}});
    EXPECT_EQ(r.status, 200u) << type << " " << r.body;
    auto events = events_of_type(svc(), a.user_id, "user.deleted");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(str(field(events[0].payload, "actor"), "type"), type);
    EXPECT_EQ(str(field(events[0].payload, "actor"), "id"), std::string(128, 'i'));
  }
}

TEST_F(AccountsAdmin, SoftDeleteRejectsInvalidBodiesAndWritesNothing) {
  auto a = create_account(svc());
  const std::vector<boost::json::value> bad = {
      boost::json::object{},
      boost::json::object{{"reason_code", "x_y"}},
      boost::json::object{{"actor", actor()}},
      boost::json::object{{"reason_code", ""}, {"actor", actor()}},
      boost::json::object{{"reason_code", std::string(65, 'r')}, {"actor", actor()}},
      boost::json::object{{"reason_code", "Not_Snake"}, {"actor", actor()}},
      boost::json::object{{"reason_code", "has space"}, {"actor", actor()}},
      boost::json::object{{"reason_code", "kebab-case"}, {"actor", actor()}},
      boost::json::object{{"reason_code", nullptr}, {"actor", actor()}},
      boost::json::object{{"reason_code", 5}, {"actor", actor()}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", nullptr}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", "admin"}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", boost::json::array{"admin", "id"}}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor("user", "u1")}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor("ADMIN", "u1")}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor("", "u1")}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor("admin", "")}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor("admin", std::string(129, 'i'))}},
      boost::json::object{{"reason_code", "x_y"},
                          {"actor", boost::json::object{{"type", "admin"}}}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", boost::json::object{{"id", "x"}}}},
      boost::json::object{
          {"reason_code", "x_y"},
          {"actor", boost::json::object{{"type", "admin"}, {"id", "x"}, {"name", "n"}}}},
      boost::json::object{{"reason_code", "x_y"}, {"actor", actor()}, {"hard", true}},
  };
  for (const auto& body : bad) {
    SCOPED_TRACE(json_str(body));
    auto before = write_counts(svc());
    expect_error(delete_with(a.user_id, body), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
  EXPECT_EQ(get_account(svc(), a.user_id).status, 200u);
}

// ---------------------------------------------------------------------------------------------
// Lookups

TEST_F(AccountsAdmin, LookupsFindALiveAccountAndMatchTheSelfServiceView) {
  auto a = create_account(svc());
  std::string name = unique_user_name("Looked");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  seed_sanction(svc(), a.user_id, "game_join_block");
  auto self = expect_json(get_account(svc(), a.user_id), 200);

  for (const auto& r : {lookup_id(a.user_id), lookup_email(pct(a.email)), lookup_email(a.email),
                        lookup_email(pct(upper(a.email))),
                        lookup_email("%20" + pct(a.email) + "%09"), lookup_email(pct_all(a.email)),
                        lookup_name(name), lookup_name(upper(name)), lookup_name(pct_all(name))}) {
    auto v = expect_json(r, 200);
    expect_account_view_shape(v);
    EXPECT_TRUE(has(v, "deleted_at") && field(v, "deleted_at").is_null()) << r.body;
    EXPECT_TRUE(same_json(without_deleted_at(v), self)) << r.body << "\nvs\n" << json_str(self);
  }
}

TEST_F(AccountsAdmin, LookupByMintedUserName) {
  auto a = create_account(svc());
  std::string minted = str(account_of(svc(), a.user_id), "user_name");
  auto v = expect_json(lookup_name(minted), 200);
  EXPECT_EQ(str(field(v, "account"), "user_id"), a.user_id);
  v = expect_json(lookup_name(upper(minted)), 200);
  EXPECT_EQ(str(field(v, "account"), "user_id"), a.user_id);
}

TEST_F(AccountsAdmin, LookupKeepsPlusSignsInEmails) {
  auto email = "plus+" + unique_email();
  auto r = ensure(svc(), email);
  ASSERT_EQ(r.status, 201u) << r.body;
  std::string id = str(body_json(r), "user_id");
  for (const auto& encoded : {email, pct(email)}) {
    auto v = expect_json(lookup_email(encoded), 200);
    EXPECT_EQ(str(field(v, "account"), "user_id"), id) << encoded;
    EXPECT_EQ(str(field(v, "account"), "email"), email) << encoded;
  }
  // '+' in a path is not a space.
  std::string spaced = email;
  spaced[4] = ' ';
  EXPECT_NE(lookup_email(pct(spaced)).status, 200u);
}

TEST_F(AccountsAdmin, LookupsFindSoftDeletedAccountsWithTheirDeletedAt) {
  auto a = create_account(svc());
  std::string name = unique_user_name("Gone");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  auto del = expect_json(soft_delete(svc(), a.user_id), 200);
  for (const auto& r :
       {lookup_id(a.user_id), lookup_email(pct(a.email)), lookup_name(upper(name))}) {
    auto v = expect_json(r, 200);
    expect_account_view_shape(v);
    EXPECT_EQ(str(field(v, "account"), "user_id"), a.user_id);
    EXPECT_EQ(str(field(v, "account"), "user_name"), name);
    EXPECT_EQ(str(v, "deleted_at"), str(del, "deleted_at")) << r.body;
  }
}

TEST_F(AccountsAdmin, LookupsOfUnknownSubjectsAre404) {
  expect_error(lookup_id(kUnknownId), 404, "subject_not_found");
  expect_error(lookup_email(pct(unique_email())), 404, "subject_not_found");
  expect_error(lookup_name(unique_user_name("Nobody")), 404, "subject_not_found");
  expect_error(lookup_name("player-zzzzzz"), 404, "subject_not_found");
}

TEST_F(AccountsAdmin, LookupsWithMalformedKeys) {
  expect_error(lookup_id(std::string(65, 'x')), 400, "invalid_request");
  expect_error(lookup_id("a%20b"), 400, "invalid_request");
  for (std::string bad :
       {"plain", "a%40b%40example.com", "%40example.com", "a%40example", "a%2540example.com"}) {
    SCOPED_TRACE(bad);
    expect_error(lookup_email(bad), 400, "invalid_request");
  }
  // A path user name that cannot be a user name: 400 or 404 are both fine.
  for (std::string bad : std::vector<std::string>{"ab", "1abc", "a%20b%20c", std::string(25, 'n'),
                                                  "%C3%A9abc", "abc%00"}) {
    SCOPED_TRACE(bad);
    auto r = lookup_name(bad);
    EXPECT_TRUE(r.status == 400u || r.status == 404u) << r.status << " " << r.body;
    EXPECT_EQ(error_code_of(r), r.status == 400u ? "invalid_request" : "subject_not_found")
        << r.body;
  }
}

TEST_F(AccountsAdmin, LookupsNeverWrite) {
  auto a = create_account(svc());
  auto before = write_counts(svc());
  lookup_id(a.user_id);
  lookup_email(pct(a.email));
  lookup_name("player-zzzzzz");
  EXPECT_EQ(write_counts(svc()), before);
}

// ---------------------------------------------------------------------------------------------
// Blocked emails

TEST_F(AccountsAdmin, BlockedEmailLifecycle) {
  auto email = unique_email();
  auto body = json_str({{"reason_code", "spam_wave"}, {"actor", actor()}});
  expect_error(blocked("GET", pct(email)), 404, "not_found");

  auto created = blocked("PUT", pct(email), body);
  auto v = expect_json(created, 201);
  EXPECT_EQ(str(v, "email"), email) << created.body;
  EXPECT_EQ(str(v, "reason_code"), "spam_wave") << created.body;
  EXPECT_TRUE(is_timestamp(field(v, "blocked_at"))) << created.body;

  auto got = expect_json(blocked("GET", pct(email)), 200);
  EXPECT_TRUE(same_json(got, v)) << json_str(got);

  // Again, with another reason: 200 with the stored row.
  auto again =
      blocked("PUT", pct(email),
              json_str({{"reason_code", "other_reason"}, {"actor", actor("system", "s")}}));
  EXPECT_TRUE(same_json(expect_json(again, 200), v)) << again.body;

  auto del = blocked("DELETE", pct(email));
  EXPECT_EQ(del.status, 204u) << del.body;
  EXPECT_TRUE(del.body.empty()) << del.body;
  expect_error(blocked("GET", pct(email)), 404, "not_found");
  expect_error(blocked("DELETE", pct(email)), 404, "not_found");

  // Blocking anew is a new block.
  auto fresh = blocked("PUT", pct(email), json_str({{"reason_code", "third"}, {"actor", actor()}}));
  auto fv = expect_json(fresh, 201);
  EXPECT_EQ(str(fv, "reason_code"), "third");
}

TEST_F(AccountsAdmin, BlockedEmailsAreNormalised) {
  auto email = unique_email();
  auto body = json_str({{"reason_code", "mixed_case"}, {"actor", actor()}});
  auto r = blocked("PUT", "%20" + pct(upper(email)) + "%20", body);
  auto v = expect_json(r, 201);
  EXPECT_EQ(str(v, "email"), email) << r.body;
  EXPECT_EQ(blocked("GET", pct(email)).status, 200u);
  EXPECT_EQ(blocked("GET", email).status, 200u);
  EXPECT_EQ(blocked("GET", pct_all(upper(email))).status, 200u);
  EXPECT_EQ(blocked("PUT", pct(upper(email)), body).status, 200u);
  EXPECT_EQ(blocked("DELETE", pct(upper(email))).status, 204u);
  EXPECT_EQ(blocked("GET", pct(email)).status, 404u);
}

TEST_F(AccountsAdmin, BlockingAnEmailLeavesItsAccountAloneButBlocksResolution) {
  auto a = create_account(svc());
  auto before_view = expect_json(get_account(svc(), a.user_id), 200);
  auto before_events = events_for(svc(), a.user_id).size();
  ASSERT_EQ(block_email(svc(), a.email, "bounced_mail").status, 201u);

  EXPECT_TRUE(same_json(expect_json(get_account(svc(), a.user_id), 200), before_view));
  EXPECT_EQ(events_for(svc(), a.user_id).size(), before_events);
  EXPECT_EQ(body_json(svc().call("GET", kApi + "/users/" + a.user_id + "/exists")),
            boost::json::parse(R"({"exists":true})"));
  EXPECT_EQ(svc().call("GET", kApi + "/users/" + a.user_id + "/eligibility").status, 200u);
  auto lookup = expect_json(lookup_id(a.user_id), 200);
  EXPECT_TRUE(field(lookup, "deleted_at").is_null());

  auto res = expect_json(resolve(svc(), a.email), 200);
  EXPECT_EQ(str(res, "kind"), "blocked");
  EXPECT_EQ(str(res, "block_reason_code"), "bounced_mail");
  auto ens = expect_json(ensure(svc(), a.email), 200);
  EXPECT_EQ(str(ens, "outcome"), "blocked");
  EXPECT_EQ(str(ens, "block_reason_code"), "bounced_mail");

  ASSERT_EQ(blocked("DELETE", pct(a.email)).status, 204u);
  res = expect_json(resolve(svc(), a.email), 200);
  EXPECT_EQ(str(res, "kind"), "existing");
  EXPECT_EQ(str(res, "user_id"), a.user_id);
}

TEST_F(AccountsAdmin, BlockedEmailRejectsInvalidEmailsAndBodies) {
  auto good_body = json_str({{"reason_code", "x_y"}, {"actor", actor()}});
  for (std::string bad : std::vector<std::string>{
           "plain", "a%40b%40example.com", "%40example.com", "a%40example", "a%40example..com",
           "a%2540example.com", "%00a%40example.com", pct(std::string(65, 'l') + "@example.com")}) {
    SCOPED_TRACE(bad);
    auto before = write_counts(svc());
    expect_error(blocked("PUT", bad, good_body), 400, "invalid_request");
    expect_error(blocked("GET", bad), 400, "invalid_request");
    expect_error(blocked("DELETE", bad), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
  auto email = unique_email();
  const std::vector<std::string> bad_bodies = {
      "{}",
      json_str({{"reason_code", "x_y"}}),
      json_str({{"actor", actor()}}),
      json_str({{"reason_code", "Bad Code"}, {"actor", actor()}}),
      json_str({{"reason_code", "x_y"}, {"actor", actor("robot", "r")}}),
      json_str({{"reason_code", "x_y"}, {"actor", actor()}, {"email", email}}),
      json_str(
          {{"reason_code", "x_y"}, {"actor", actor()}, {"expires_at", "2099-01-01T00:00:00Z"}}),
  };
  for (const auto& body : bad_bodies) {
    SCOPED_TRACE(body);
    auto before = write_counts(svc());
    expect_error(blocked("PUT", pct(email), body), 400, "invalid_request");
    EXPECT_EQ(write_counts(svc()), before);
  }
  expect_error(blocked("GET", pct(email)), 404, "not_found");
}

TEST_F(AccountsAdmin, SoftDeletedAccountKeepsItsEmailAndNameTaken) {
  auto a = create_account(svc());
  auto b = create_account(svc());
  std::string name = unique_user_name("Kept");
  ASSERT_EQ(rename(svc(), a.user_id, name).status, 200u);
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  auto before = write_counts(svc());
  auto ens = expect_json(ensure(svc(), a.email), 200);
  EXPECT_EQ(str(ens, "outcome"), "blocked");
  EXPECT_EQ(str(ens, "block_reason_code"), "account_deleted");
  expect_error(rename(svc(), b.user_id, upper(name)), 409, "conflict");
  EXPECT_EQ(write_counts(svc()), before);
}

TEST_F(AccountsAdmin, EveryNonAdminRouteTreatsASoftDeletedAccountAsGone) {
  auto a = create_account(svc());
  ASSERT_EQ(soft_delete(svc(), a.user_id).status, 200u);
  auto before = write_counts(svc());
  const std::string u = kApi + "/users/" + a.user_id;
  EXPECT_EQ(body_json(svc().call("GET", u + "/exists")), boost::json::parse(R"({"exists":false})"));
  expect_error(svc().call("GET", u + "/account"), 404, "subject_not_found");
  expect_error(svc().call("PATCH", u + "/profile", json_str({{"user_name", unique_user_name()}})),
               404, "subject_not_found");
  expect_error(svc().call("PATCH", u + "/settings", R"({"time_zone":"UTC"})"), 404,
               "subject_not_found");
  expect_error(svc().call("PUT", u + "/declared-country", R"({"declared_country":"DE"})"), 404,
               "subject_not_found");
  expect_error(svc().call("GET", u + "/eligibility"), 404, "subject_not_found");
  auto eb = expect_json(
      post_json(svc(), "/users/eligibility:batch", {{"user_ids", boost::json::array{a.user_id}}}),
      200);
  EXPECT_TRUE(field(eb, "items").is_array() && field(eb, "items").as_array().empty());
  EXPECT_EQ(json_str(field(eb, "not_found")), json_str(boost::json::array{a.user_id}));
  auto pb = expect_json(
      post_json(svc(), "/users/profiles:batch", {{"user_ids", boost::json::array{a.user_id}}}),
      200);
  EXPECT_TRUE(field(pb, "items").is_array() && field(pb, "items").as_array().empty());
  EXPECT_EQ(json_str(field(pb, "not_found")), json_str(boost::json::array{a.user_id}));
  auto res = expect_json(resolve(svc(), a.email), 200);
  EXPECT_EQ(str(res, "kind"), "blocked");
  EXPECT_EQ(str(res, "block_reason_code"), "account_deleted");
  EXPECT_EQ(write_counts(svc()), before);
}
