// Idempotency-Key (docs/api.md): every admin command kind and ensure-by-email. A retry with
// the same key and the same request gets the first answer again (same status, same body,
// Idempotent-Replayed: true) and writes nothing; the same key with another request is 409;
// concurrent requests with one key apply once; an answer decided before the database was
// touched (400) is not stored; expired keys are purged by the sweeper. Black-box, real
// PostgreSQL and Redis.
#include <future>
#include <thread>

#include "integration/admin_command_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::cmd;
using acct::body_json;
using acct::str;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::map<std::string, std::string> key_header(const std::string& key) {
  return {{"Idempotency-Key", key}};
}

std::string fresh_key() { return "key-" + acct::random_hex(24); }

// Everything any route of these tests writes: the command tables, accounts, blocked emails,
// every event ever written (the outbox sequence) and the stored keys.
std::string everything_written(const RunningService& s) {
  return write_fingerprint(s) + "/" +
         s.sql(R"(SELECT (SELECT count(*) FROM "user".accounts) || '/' ||
                         (SELECT md5(coalesce(string_agg(a::text, '|' ORDER BY user_id), ''))
                            FROM "user".accounts a) || '/' ||
                         (SELECT count(*) FROM "user".blocked_emails) || '/' ||
                         (SELECT count(*) FROM "user".idempotency_keys))")
             .at(0)
             .at(0);
}

struct Call {
  std::string name;
  std::function<HttpResponse(const std::map<std::string, std::string>&)> send;
  unsigned first_status;  // what the first, keyed call answers
};

// Sends `call` with a fresh key, then again with the same key: the second answer is the
// first one replayed, and nothing at all was written by it.
void expect_replayed(const RunningService& s, const Call& call) {
  SCOPED_TRACE(call.name);
  const auto headers = key_header(fresh_key());
  const HttpResponse first = call.send(headers);
  EXPECT_EQ(first.status, call.first_status) << first.body;
  EXPECT_EQ(first.header("idempotent-replayed"), "");
  const std::string written = everything_written(s);
  for (int i = 0; i < 2; ++i) {
    const HttpResponse again = call.send(headers);
    EXPECT_EQ(again.status, first.status);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.header("content-type"), first.header("content-type"));
    EXPECT_EQ(again.header("idempotent-replayed"), "true");
    EXPECT_EQ(everything_written(s), written) << "a replay wrote something";
  }
}

TEST(Idempotency, EveryAdminCommandKindAndEnsureReplayTheFirstAnswerAndWriteNothing) {
  auto svc = start();
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto email = acct::unique_email("ensure");
  const auto blocked = acct::unique_email("blocked");
  const auto blocked_path = acct::kApi + "/admin/blocked-emails/" + acct::pct(blocked);
  const auto post = [&](const std::string& path, const json::object& body) {
    return [&s, user, path, body](const std::map<std::string, std::string>& h) {
      return command(s, user, path, body, h);
    };
  };
  const std::vector<Call> calls = {
      {"ensure (created)",
       [&](const auto& h) {
         return acct::post_json(s, "/users/ensure-by-email", {{"email", email}}, h);
       },
       201},
      {"grant",
       post("/entitlements/grant", with_meta({{"plan_code", "paid_monthly"},
                                              {"ends_at", from_now(30 * 24h)},
                                              {"source", "billing"}})),
       200},
      {"extend",
       post("/entitlements/extend",
            with_meta({{"ends_at", from_now(60 * 24h)}, {"source", "billing"}})),
       200},
      {"revoke", post("/entitlements/revoke", with_meta({})), 200},
      {"revoke again (409 is an answer too)", post("/entitlements/revoke", with_meta({})), 409},
      {"apply", post("/sanctions/apply", with_meta({{"sanction_code", "login_block"}})), 200},
      {"remove sanction", post("/sanctions/remove", with_meta({{"sanction_code", "login_block"}})),
       200},
      {"set limit",
       post("/limits/set", with_meta({{"limit_code", "max_owned_private_games"}, {"value", 4}})),
       200},
      {"remove limit",
       post("/limits/remove", with_meta({{"limit_code", "max_owned_private_games"}})), 200},
      {"block email",
       [&](const auto& h) {
         return s.call("PUT", blocked_path,
                       acct::json_str({{"reason_code", "abuse"}, {"actor", actor()}}), h);
       },
       201},
      {"unblock email", [&](const auto& h) { return s.call("DELETE", blocked_path, "", h); }, 204},
      {"delete user", [&](const auto& h) { return acct::soft_delete(s, user, "gdpr", h); }, 200},
      {"command on a deleted user (404)",
       post("/sanctions/apply", with_meta({{"sanction_code", "game_join_block"}})), 404},
  };
  for (const auto& call : calls) expect_replayed(s, call);
  // Each applied command wrote exactly one history record, replays none.
  EXPECT_EQ(record_kinds(s, "entitlement_records", user),
            (std::vector<std::string>{"grant", "extend", "revoke"}));
  EXPECT_EQ(record_kinds(s, "sanction_records", user),
            (std::vector<std::string>{"apply", "remove"}));
  EXPECT_EQ(record_kinds(s, "limit_records", user), (std::vector<std::string>{"set", "remove"}));
  EXPECT_EQ(acct::count_accounts_with_email(s, email), 1);
}

TEST(Idempotency, EnsureRetriedWithItsKeyAnswersCreatedAgainWithOneAccountAndOneEvent) {
  auto s = start_service();
  const auto email = acct::unique_email();
  const auto h = key_header(fresh_key());
  auto first = acct::ensure(s, email, h);
  ASSERT_EQ(first.status, 201u) << first.body;
  const auto user_id = str(body_json(first), "user_id");
  auto again = acct::ensure(s, email, h);
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.body, first.body);
  // Without the key the same call is an ordinary second ensure.
  auto unkeyed = acct::ensure(s, email);
  EXPECT_EQ(unkeyed.status, 200u);
  EXPECT_EQ(str(body_json(unkeyed), "outcome"), "existing");
  EXPECT_EQ(acct::events_of_type(s, user_id, "user.created").size(), 1u);
}

TEST(Idempotency, SameKeyWithAnotherRequestIsConflictAndWritesNothing) {
  auto svc = start();
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto other = acct::create_account(s).user_id;
  const auto h = key_header(fresh_key());
  ASSERT_EQ(command(s, user, "/limits/set",
                    with_meta({{"limit_code", "max_owned_private_games"}, {"value", 4}}), h)
                .status,
            200u);
  const std::string written = everything_written(s);
  // Another value, another user, another route, another method: all conflicts.
  acct::expect_error(
      command(s, user, "/limits/set",
              with_meta({{"limit_code", "max_owned_private_games"}, {"value", 5}}), h),
      409, "conflict");
  acct::expect_error(
      command(s, other, "/limits/set",
              with_meta({{"limit_code", "max_owned_private_games"}, {"value", 4}}), h),
      409, "conflict");
  acct::expect_error(
      command(s, user, "/sanctions/apply", with_meta({{"sanction_code", "login_block"}}), h), 409,
      "conflict");
  acct::expect_error(acct::ensure(s, acct::unique_email(), h), 409, "conflict");
  EXPECT_EQ(everything_written(s), written);
  // The same body with its keys in another order and other whitespace is the same request.
  auto same =
      s.call("POST", acct::kApi + "/admin/users/" + user + "/limits/set",
             R"({ "actor": {"id": "admin-7", "type": "admin"}, "reason_code": "support_case",
                          "value": 4, "limit_code": "max_owned_private_games" })",
             h);
  EXPECT_EQ(same.status, 200u) << same.body;
  EXPECT_EQ(same.header("idempotent-replayed"), "true");
}

TEST(Idempotency, ConcurrentRequestsWithOneKeyApplyOnce) {
  auto svc = start();
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto h = key_header(fresh_key());
  std::vector<std::future<HttpResponse>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      return command(s, user, "/sanctions/apply", with_meta({{"sanction_code", "game_join_block"}}),
                     h);
    }));
  }
  std::vector<HttpResponse> answers;
  for (auto& c : calls) answers.push_back(c.get());
  int replayed = 0;
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 200u) << a.body;
    EXPECT_EQ(a.body, answers[0].body);
    replayed += a.header("idempotent-replayed") == "true";
  }
  EXPECT_EQ(replayed, 7);
  EXPECT_EQ(record_kinds(s, "sanction_records", user), (std::vector<std::string>{"apply"}));
  const auto events = events_of(svc, user, "user.sanction.changed");
  EXPECT_EQ(events.size(), 1u);
}

TEST(Idempotency, MalformedKeysAre400AndWriteNothing) {
  auto svc = start();
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const std::string written = everything_written(s);
  const auto body = with_meta({{"sanction_code", "login_block"}});
  for (const std::string bad :
       {std::string(""), std::string(256, 'k'), std::string("two words"), std::string("tab\there"),
        std::string("\"\""), std::string("caf\xc3\xa9")}) {
    acct::expect_error(command(s, user, "/sanctions/apply", body, key_header(bad)), 400,
                       "invalid_request");
  }
  // The header twice.
  HttpClient c(s.port);
  const std::string json_body = acct::json_str(body);
  c.send_raw("POST " + acct::kApi + "/admin/users/" + user +
             "/sanctions/apply HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Idempotency-Key: a1\r\nIdempotency-Key: a2\r\nContent-Length: " +
             std::to_string(json_body.size()) + "\r\n\r\n" + json_body);
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  acct::expect_error(*r, 400, "invalid_request");
  EXPECT_EQ(everything_written(s), written);
  // 255 characters, and the structured-field string form, are fine.
  EXPECT_EQ(command(s, user, "/sanctions/apply", body, key_header(std::string(255, 'k'))).status,
            200u);
  auto quoted =
      command(s, user, "/sanctions/apply", body, key_header("\"" + std::string(255, 'k') + "\""));
  EXPECT_EQ(quoted.status, 200u);
  EXPECT_EQ(quoted.header("idempotent-replayed"), "true");
}

TEST(Idempotency, AnswersDecidedBeforeTheDatabaseAreNotStored) {
  auto svc = start();
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto h = key_header(fresh_key());
  // Invalid body (unknown sanction): 400 before any statement, nothing stored ...
  acct::expect_error(
      command(s, user, "/sanctions/apply", with_meta({{"sanction_code", "nope"}}), h), 400,
      "invalid_request");
  EXPECT_EQ(count(s, R"(SELECT count(*) FROM "user".idempotency_keys)"), 0);
  // ... so the corrected request with the same key runs.
  auto ok = command(s, user, "/sanctions/apply", with_meta({{"sanction_code", "login_block"}}), h);
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(ok.header("idempotent-replayed"), "");
}

TEST(Idempotency, ExpiredKeysArePurgedByTheSweeperAndRunAnew) {
  auto svc = start("300ms");
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto key = fresh_key();
  ASSERT_EQ(
      command(s, user, "/limits/set",
              with_meta({{"limit_code", "max_owned_private_games"}, {"value", 4}}), key_header(key))
          .status,
      200u);
  // The stored time to live is the default 24 h.
  EXPECT_EQ(count(s, R"(SELECT round(extract(epoch FROM expires_at - created_at))
                          FROM "user".idempotency_keys)"),
            24 * 3600);
  s.sql(R"(UPDATE "user".idempotency_keys SET expires_at = now() - interval '1 second')");
  EXPECT_TRUE(acct::eventually(
      [&] { return count(s, R"(SELECT count(*) FROM "user".idempotency_keys)") == 0; }, 10s));
  auto again = command(s, user, "/limits/set",
                       with_meta({{"limit_code", "max_owned_private_games"}, {"value", 4}}),
                       key_header(key));
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.header("idempotent-replayed"), "");
  EXPECT_EQ(record_kinds(s, "limit_records", user), (std::vector<std::string>{"set", "set"}));
}

// The reason keys exist: a command answered 504 (the request deadline passed while it waited
// for a row lock) may or may not have happened; retried with its key after the lock is gone,
// it is applied exactly once.
TEST(Idempotency, A504RetriedWithItsKeyIsAppliedExactlyOnce) {
  auto svc = start("1h", {{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "300ms"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "5s"}});
  const RunningService& s = svc.s;
  const auto user = acct::create_account(s).user_id;
  const auto h = key_header(fresh_key());
  std::optional<acct::AccountRowLock> admin;
  admin.emplace(s.dsn, user, 800ms);
  const auto body = with_meta({{"limit_code", "max_owned_private_games"}, {"value", 9}});
  acct::expect_error(command(s, user, "/limits/set", body, h), 504, "deadline_exceeded");
  admin.reset();
  std::this_thread::sleep_for(200ms);
  auto retry = command(s, user, "/limits/set", body, h);
  EXPECT_EQ(retry.status, 200u) << retry.body;
  auto third = command(s, user, "/limits/set", body, h);
  EXPECT_EQ(third.body, retry.body);
  EXPECT_EQ(third.header("idempotent-replayed"), "true");
  EXPECT_EQ(record_kinds(s, "limit_records", user), (std::vector<std::string>{"set"}));
}

}  // namespace
