// Partial failures (docs/architecture.md, "What an error says about a write"): a dependency
// that is slow, stuck or half-up must never make the service answer an error for a write that
// committed, nor a success for one that did not. Black-box: the real binary over HTTP against
// real PostgreSQL and Redis; faults are real row locks, real signals, real refusals.
#include <algorithm>
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

long limit_records(const RunningService& s, const std::string& user_id) {
  return count(s, R"(SELECT count(*) FROM "user".limit_records WHERE user_id = ')" + user_id + "'");
}

// The reproduction of batching's worst case: a pool of one, a row lock held by another session,
// twelve concurrent admin limits/set commands (one per user, one of them the locked user). The
// commands queue and share round trips. Every 200 must have committed exactly one record;
// every other answer must have committed none; only the locked user's command fails.
TEST(PartialFailures, BatchWithOneStuckSegmentAnswersEveryCommittedCallerWithSuccess) {
  auto svc = start("1h", {{"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "1"},
                          {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "500ms"},
                          {"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "5s"},
                          {"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}});
  const RunningService& s = svc.s;
  std::vector<std::string> users;
  for (int i = 0; i < 12; ++i) users.push_back(acct::create_account(s).user_id);
  const std::string locked = users[5];

  // Holds the account row lock every command takes first, for longer than the operation
  // timeout (the server cancels the waiting statement at 500 ms: a definite rollback).
  std::optional<acct::AccountRowLock> lock;
  lock.emplace(s.dsn, locked, 1500ms);

  std::vector<std::future<HttpResponse>> calls;
  for (const auto& u : users) {
    calls.push_back(std::async(std::launch::async,
                               [&s, u] { return set_limit(s, u, "max_owned_private_games", 7); }));
  }
  std::vector<HttpResponse> answers;
  for (auto& f : calls) answers.push_back(f.get());
  lock.reset();

  for (std::size_t i = 0; i < users.size(); ++i) {
    const long records = limit_records(s, users[i]);
    if (answers[i].status == 200) {
      EXPECT_EQ(records, 1) << "answered 200 but did not commit: user " << i;
    } else {
      EXPECT_EQ(records, 0) << "answered " << answers[i].status << " but committed: user " << i
                            << " " << answers[i].body;
    }
    if (users[i] == locked) {
      acct::expect_error(answers[i], 503, "service_unavailable");
    } else {
      EXPECT_EQ(answers[i].status, 200u) << "user " << i << ": " << answers[i].body;
    }
  }
  // The commands did share round trips (otherwise this test proves nothing about batches).
  const auto metrics = http(s.admin_port, "GET", "/metrics").body;
  const auto pos = metrics.find("userservice_db_pool_batches_total{");
  ASSERT_NE(pos, std::string::npos) << metrics;
  const auto line = metrics.substr(pos, metrics.find('\n', pos) - pos);
  EXPECT_NE(line.substr(line.rfind(' ') + 1), "0") << line;
}

// A profile_update_block committed by the transaction a patch waits for (holding the account
// row lock, as every admin command does) denies the patch: the block check runs after the lock.
TEST(PartialFailures, BlockCommittedWhileAPatchWaitsForTheRowLockDeniesThePatch) {
  auto s = start_service();
  for (const std::string route : {"profile", "settings"}) {
    auto user = acct::create_account(s);
    std::optional<acct::AccountRowLock> admin;
    admin.emplace(s.dsn, user.user_id, 400ms,
                  R"(INSERT INTO "user".sanction_active(user_id, sanction_code, reason_code,
                                                       actor_type, actor_id, applied_at, expires_at)
                     VALUES ()" +
                      acct::sql_literal(user.user_id) +
                      R"(, 'profile_update_block', 'abuse', 'admin', 'a1', now(), NULL))");
    const std::string body =
        route == "profile" ? json::serialize(json::object{{"user_name", acct::unique_user_name()}})
                           : json::serialize(json::object{{"time_zone", "Europe/Berlin"}});
    auto r = s.call("PATCH", acct::kApi + "/users/" + user.user_id + "/" + route, body);
    admin.reset();
    acct::expect_error(r, 409, "policy_denied");
    auto account = acct::account_of(s, user.user_id);
    EXPECT_NE(str(account, "time_zone"), "Europe/Berlin");
    EXPECT_TRUE(acct::is_minted_user_name(str(account, "user_name"))) << route;
    const auto events = acct::events_for(s, user.user_id);
    ASSERT_EQ(events.size(), 1u) << route;  // user.created only
    EXPECT_EQ(events[0].event_type, "user.created");
  }
}

}  // namespace
