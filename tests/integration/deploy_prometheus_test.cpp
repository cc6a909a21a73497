// The operations artifacts against the real thing: a Prometheus server (Debian `prometheus`)
// scrapes a running service's admin listener with deploy/prometheus/userservice.rules.yml
// loaded. Its HTTP query API must return the service's series, every metric the rules name
// must exist, and every alerting rule must evaluate without error.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <thread>

#include "integration/account_helpers.h"
#include "integration/service_fixture.h"
#include "support/process_util.h"

using namespace userservice::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string kRules =
    std::string(USERSERVICE_SOURCE_DIR) + "/deploy/prometheus/userservice.rules.yml";
const std::string kDashboard =
    std::string(USERSERVICE_SOURCE_DIR) + "/deploy/grafana/userservice.json";

// Metric names of ours in a PromQL text (recording-rule names contain ':' and are skipped).
void add_metric_names(const std::string& promql, std::set<std::string>& names) {
  static const std::regex name(
      R"((?:^|[^a-zA-Z0-9_:])((?:http_server|db_sql|db_client|outbox|userservice|process|otel_exporter)_[a-z0-9_]+)\b(?!:))");
  for (std::sregex_iterator it(promql.begin(), promql.end(), name), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
}

// Every "expr" of the dashboard's panels, with Grafana's variables replaced by what a
// Prometheus server accepts: $__rate_interval by a duration, $job and $instance by values.
std::vector<std::string> dashboard_queries() {
  std::ifstream in(kDashboard);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const json::value doc = json::parse(text);
  std::vector<std::string> out;
  for (const auto& panel : doc.at("panels").as_array()) {
    for (const auto& target : panel.at("targets").as_array()) {
      std::string expr(target.at("expr").as_string());
      for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
               {"$__rate_interval", "1m"}, {"$job", "userservice"}, {"$instance", ".*"}}) {
        for (std::size_t at = expr.find(from); at != std::string::npos; at = expr.find(from, at)) {
          expr.replace(at, from.size(), to);
          at += to.size();
        }
      }
      EXPECT_EQ(expr.find('$'), std::string::npos) << "unreplaced variable in " << expr;
      out.push_back(std::move(expr));
    }
  }
  return out;
}

// The metric names the rules' expressions read (not the recording rules' own names, which
// contain ':'; not names in annotations, which are prose).
std::set<std::string> metrics_named_by_rules() {
  std::ifstream in(kRules);
  std::string line;
  std::set<std::string> names;
  bool in_expr = false;
  std::size_t expr_indent = 0;
  while (std::getline(in, line)) {
    const std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    const std::string_view body = std::string_view(line).substr(indent);
    if (body.starts_with("expr:")) {
      in_expr = true;
      expr_indent = indent;
    } else if (in_expr && indent <= expr_indent) {
      in_expr = false;
    }
    if (!in_expr || body.starts_with("#")) continue;
    add_metric_names(line, names);
  }
  return names;
}

class PrometheusServer {
 public:
  PrometheusServer(int target_port) : dir_(detail::make_temp_dir("prometheus-")) {
    port_ = free_loopback_port();
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << kRules << "\n"
        << "scrape_configs:\n  - job_name: userservice\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    process_ = std::make_unique<ServiceProcess>(detail::find_executable("prometheus"),
                                                std::map<std::string, std::string>{});
    process_->set_args(
        {"--config.file=" + dir_ + "/prometheus.yml", "--storage.tsdb.path=" + dir_ + "/data",
         "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"});
    process_->start();
  }
  ~PrometheusServer() {
    process_->signal(SIGTERM);
    process_->wait_exit(10s);
    process_.reset();
    detail::remove_tree(dir_);
  }
  bool wait_ready(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until && process_->running()) {
      if (process_->wait_listening(port_, 1s) && http(port_, "GET", "/-/ready").status == 200) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // The "data.result" array of an instant query.
  json::array query(const std::string& promql) {
    auto r = http(port_, "GET", "/api/v1/query?query=" + acct::pct(promql));
    if (r.status != 200) return {};
    auto v = json::parse(r.body);
    return v.at("data").at("result").as_array();
  }
  json::value get(const std::string& path) { return json::parse(http(port_, "GET", path).body); }
  std::string log() const { return process_->stdout_text() + process_->stderr_text(); }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ServiceProcess> process_;
};

}  // namespace

TEST(DeployPrometheus, RealPrometheusScrapesTheServiceAndEveryRuleEvaluates) {
  const std::set<std::string> names = metrics_named_by_rules();
  // The extractor itself: it found the families the alerts are about.
  for (const char* expected : {"http_server_requests_total", "db_sql_connection_max_open",
                               "outbox_relay_leader", "userservice_expiry_sweeps_total"}) {
    ASSERT_TRUE(names.contains(expected)) << expected;
  }

  auto s = start_service(
      {{"USERSERVICE_ADMIN_HTTP_ADDR", "auto"}, {"USERSERVICE_EXPIRY_SWEEP_INTERVAL", "1s"}});
  ASSERT_TRUE(s.process->running());
  for (int i = 0; i < 5; ++i) s.call("GET", "/api/v1/internal/users/user-nobody/exists");
  s.call("GET", "/api/v1/internal/nope");

  PrometheusServer prom(s.admin_port);
  ASSERT_TRUE(prom.wait_ready(30s)) << prom.log();

  // A series of ours, through the query API, with the labels the scrape gave it.
  json::array up;
  json::array requests;
  std::set<std::string> missing = names;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    requests = prom.query(
        R"(http_server_requests_total{job="userservice",route="/api/v1/internal/users/{user_id}/exists"})");
    for (auto it = missing.begin(); it != missing.end();) {
      it = prom.query("count({__name__=\"" + *it + "\"})").empty() ? std::next(it)
                                                                   : missing.erase(it);
    }
    if (!requests.empty() && missing.empty()) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(requests.size(), 1u) << prom.log();
  EXPECT_EQ(requests[0].at("metric").at("status_class").as_string(), "2xx");
  EXPECT_EQ(requests[0].at("value").as_array()[1].as_string(), "5");
  for (const auto& m : missing)
    ADD_FAILURE() << "the rules read " << m << ", which the service never exports";

  // Every dashboard query runs on the real server, and what it reads exists (the exporter's
  // own families only appear with an exporter configured).
  std::set<std::string> dashboard_names;
  for (const auto& q : dashboard_queries()) {
    auto r = http(prom.port(), "GET", "/api/v1/query?query=" + acct::pct(q));
    EXPECT_EQ(r.status, 200u) << q << "\n" << r.body;
    add_metric_names(q, dashboard_names);
  }
  for (const auto& m : dashboard_names) {
    if (m.starts_with("otel_exporter_")) continue;
    EXPECT_FALSE(prom.query("count({__name__=\"" + m + "\"})").empty())
        << "the dashboard reads " << m << ", which the service never exports";
  }

  // Every rule loaded; every alerting rule and every recording rule that ran evaluated cleanly.
  const auto rules = prom.get("/api/v1/rules");
  int alerting = 0, evaluated = 0;
  for (const auto& g : rules.at("data").at("groups").as_array()) {
    for (const auto& r : g.at("rules").as_array()) {
      const std::string health(r.at("health").as_string());
      EXPECT_NE(health, "err") << json::serialize(r);
      if (r.at("type").as_string() == "alerting") ++alerting;
      if (health == "ok") ++evaluated;
    }
  }
  EXPECT_EQ(alerting, 8) << json::serialize(rules);
  EXPECT_GE(evaluated, 8);
  // A healthy instance fires nothing but (possibly) nothing at all.
  EXPECT_TRUE(prom.query("ALERTS{alertstate=\"firing\",severity=\"page\"}").empty())
      << json::serialize(prom.get("/api/v1/alerts"));
}

// The Grafana dashboard's every query is valid PromQL for promtool (as recording rules).
TEST(DeployPrometheus, EveryDashboardQueryPassesPromtool) {
  const auto queries = dashboard_queries();
  ASSERT_GE(queries.size(), 20u);
  const std::string dir = detail::make_temp_dir("dashboard-");
  const std::string path = dir + "/dashboard.rules.yml";
  {
    std::ofstream out(path);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t i = 0; i < queries.size(); ++i) {
      std::string quoted;
      for (char c : queries[i]) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      out << "      - record: dashboard:query_" << i << "\n        expr: '" << quoted << "'\n";
    }
  }
  ServiceProcess promtool(detail::find_executable("promtool"), {});
  promtool.set_args({"check", "rules", path});
  promtool.start();
  EXPECT_EQ(promtool.wait_exit(30s), 0) << promtool.stdout_text() << promtool.stderr_text();
  EXPECT_NE(
      promtool.stdout_text().find("SUCCESS: " + std::to_string(queries.size()) + " rules found"),
      std::string::npos)
      << promtool.stdout_text() << promtool.stderr_text();
  detail::remove_tree(dir);
}
