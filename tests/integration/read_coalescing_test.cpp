// Read coalescing over HTTP (docs/architecture.md, "Read coalescing"): with a pool of one
// connection, many concurrent account views, eligibility and exists reads, resolutions and
// ensures of existing accounts queue and are coalesced; every answer must be exactly the one
// the same request gets alone, for live, deleted and unknown ids, blocked, deleted, live and
// unknown emails, and the metrics must show statements that served several requests.
#include <map>
#include <mutex>
#include <thread>

#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace std::chrono_literals;

namespace {

struct Call {
  std::string method, target, body;
};

std::vector<Call> reads_of(const std::vector<std::string>& ids,
                           const std::vector<std::string>& emails) {
  std::vector<Call> calls;
  for (const auto& id : ids) {
    calls.push_back({"GET", kApi + "/users/" + id + "/account", ""});
    calls.push_back({"GET", kApi + "/users/" + id + "/eligibility", ""});
    calls.push_back({"GET", kApi + "/users/" + id + "/exists", ""});
  }
  for (const auto& email : emails) {
    calls.push_back({"POST", kApi + "/user-resolutions/by-email", json_str({{"email", email}})});
  }
  return calls;
}

// The sample count of a histogram series in the scrape; 0 when absent.
double histogram_count(const RunningService& s, const std::string& statement) {
  const std::string text = http(s.admin_port, "GET", "/metrics").body;
  const std::string series =
      "userservice_db_coalesced_requests_count{statement=\"" + statement + "\"} ";
  const auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size()));
}

}  // namespace

TEST(ReadCoalescing, ConcurrentReadsOfMixedIdsAnswerExactlyWhatSeparateRequestsDo) {
  auto s = start_service(
      {{"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "1"}, {"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}});
  std::vector<std::string> ids, emails;
  for (int i = 0; i < 6; ++i) {
    const auto a = create_account(s, "coalesce");
    ids.push_back(a.user_id);
    emails.push_back(a.email);
  }
  ASSERT_EQ(soft_delete(s, ids[4]).status, 200u);  // deleted: 404s, resolution blocked
  ASSERT_EQ(soft_delete(s, ids[5]).status, 200u);
  ids.push_back("user-00000000000000000000000000");  // well-formed, unknown
  ids.push_back("user-zzzzzzzzzzzzzzzzzzzzzzzzzz");
  const std::string blocked = unique_email("coalesce-blocked");
  ASSERT_EQ(block_email(s, blocked).status, 201u);
  emails.push_back(blocked);
  emails.push_back(unique_email("coalesce-unknown"));

  // What each request answers alone (one at a time: nothing queues, nothing is coalesced).
  const std::vector<Call> calls = reads_of(ids, emails);
  std::vector<HttpResponse> alone;
  for (const auto& c : calls) alone.push_back(s.call(c.method, c.target, c.body));
  std::vector<HttpResponse> ensured_alone;
  for (int i = 0; i < 4; ++i) ensured_alone.push_back(ensure(s, emails[i]));
  for (const auto& r : ensured_alone) ASSERT_EQ(r.status, 200u) << r.body;

  // Sixteen clients, all of them at once, on one pool connection.
  std::mutex mu;
  std::vector<std::string> mismatches;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(s.port);
      for (int n = 0; n < 60; ++n) {
        const std::size_t k = (static_cast<std::size_t>(t) * 7 + n) % (calls.size() + 4);
        HttpResponse got, want;
        std::string what;
        if (k < calls.size()) {
          got = c.request(calls[k].method, calls[k].target, calls[k].body);
          want = alone[k];
          what = calls[k].method + " " + calls[k].target + " " + calls[k].body;
        } else {
          const std::size_t e = k - calls.size();
          got =
              c.request("POST", kApi + "/users/ensure-by-email", json_str({{"email", emails[e]}}));
          want = ensured_alone[e];
          what = "ensure " + emails[e];
        }
        if (got.status != want.status || got.body != want.body) {
          std::lock_guard lock(mu);
          mismatches.push_back(what + ": " + std::to_string(got.status) + " " + got.body +
                               " instead of " + std::to_string(want.status) + " " + want.body);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  for (const auto& m : mismatches) ADD_FAILURE() << m;

  // The reads were coalesced: some executions served several requests.
  const double coalesced = histogram_count(s, "account_state_by_id") +
                           histogram_count(s, "live_account_exists") +
                           histogram_count(s, "email_facts");
  EXPECT_GT(coalesced, 0) << "nothing was coalesced: the test proves nothing";
  std::cout << "[ info     ] coalesced executions: " << coalesced << "\n";
  // Ensure of existing accounts created nothing.
  EXPECT_EQ(s.sql("SELECT count(*) FROM \"user\".accounts").at(0).at(0), "6");
  expect_alive(s);
}

TEST(ReadCoalescing, CanBeTurnedOff) {
  auto s = start_service({{"USERSERVICE_POSTGRES_MAX_OPEN_CONNS", "1"},
                          {"USERSERVICE_POSTGRES_COALESCE_READS", "false"},
                          {"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}});
  const auto a = create_account(s, "coalesce-off");
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      HttpClient c(s.port);
      for (int n = 0; n < 40; ++n) {
        EXPECT_EQ(c.request("GET", kApi + "/users/" + a.user_id + "/account").status, 200u);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(histogram_count(s, "account_state_by_id"), 0);
}
