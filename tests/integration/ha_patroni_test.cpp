// Patroni, as operators run it (docs/scaling.md, "Patroni"): scripts/ha-up.sh starts etcd and
// a two-node Patroni 3 cluster in synchronous mode on loopback; the service gets both nodes in
// one multi-host DSN (target_session_attrs=read-write) and is never restarted. Under a steady
// write load, `patronictl switchover` and then `patronictl failover` move the primary; every
// answer is a success, 503 or 504 within the deadline, no acknowledged write and no event is
// lost, and per-user event order holds. The write-unavailability window of each is printed.
//
// ctest entry `integration.ha_patroni`, with the label `ha`: `ctest -L ha` runs it alone,
// `ctest -LE ha` skips it. CI runs it (about 35 s).
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>

#include "integration/ha_load_helpers.h"
#include "support/process_util.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace userservice::testing::events;
using namespace userservice::testing::ha;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// One statement through libpq (multi-host URIs work); rows as text.
std::vector<std::vector<std::string>> pg_query(const std::string& dsn, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error("connect " + dsn + ": " + PQerrorMessage(c.get()));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), sql.c_str()), &PQclear);
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r.get()); ++j) row.emplace_back(PQgetvalue(r.get(), i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

// The cluster of scripts/ha-up.sh in a temp dir on free ports; ha-down.sh --purge at the end.
class PatroniCluster {
 public:
  PatroniCluster() {
    dir_ = detail::make_temp_dir("userservice-patroni-");
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const char* name : {"HA_ETCD_PORT", "HA_ETCD_PEER_PORT", "HA_PG_PORT_1", "HA_PG_PORT_2",
                             "HA_API_PORT_1", "HA_API_PORT_2"}) {
      env.push_back(std::string(name) + "=" + std::to_string(free_loopback_port()));
    }
    env.push_back("HA_TIMEOUT=90");
    env_ = env;
    const std::string out = dir_ + "/ha-up.out";
    detail::SpawnOptions up;
    up.argv = {"bash", std::string(USERSERVICE_SOURCE_DIR) + "/scripts/ha-up.sh", dir_ + "/ha"};
    up.env = env_;
    up.stdout_path = out;
    up.stderr_path = dir_ + "/ha-up.err";
    const int code = detail::run(up, 180s);
    const std::string text = detail::read_file(out);
    std::smatch m;
    if (code != 0 || !std::regex_search(text, m, std::regex("HA_DSN=(\\S+)"))) {
      throw std::runtime_error("scripts/ha-up.sh failed (" + std::to_string(code) + "):\n" +
                               detail::tail_lines(detail::read_file(dir_ + "/ha-up.err"), 60));
    }
    dsn_ = m[1];
    config_ = dir_ + "/ha/node1.yml";
  }
  ~PatroniCluster() {
    detail::SpawnOptions down;
    down.argv = {"bash", std::string(USERSERVICE_SOURCE_DIR) + "/scripts/ha-down.sh", dir_ + "/ha",
                 "--purge"};
    down.env = env_;
    detail::run(down, 120s);
    detail::remove_tree(dir_);
  }

  // The cluster's DSN with another database name.
  std::string dsn(const std::string& db) const {
    return std::regex_replace(dsn_, std::regex("/postgres\\?"), "/" + db + "?");
  }
  // patronictl's view: member name -> role ("Leader", "Sync Standby", "Replica").
  std::map<std::string, std::string> roles() const {
    const std::string out = dir_ + "/list.json";
    std::remove(out.c_str());
    detail::SpawnOptions list;
    list.argv = {"patronictl", "-c", config_, "list", "-f", "json"};
    list.env = env_;
    list.stdout_path = out;
    list.stderr_path = dir_ + "/list.err";
    std::map<std::string, std::string> roles;
    if (detail::run(list, 30s) != 0) return roles;
    boost::system::error_code ec;
    const json::value v = json::parse(detail::read_file(out), ec);
    if (ec || !v.is_array()) return roles;
    for (const auto& m : v.as_array()) {
      if (!m.is_object()) continue;
      const auto* name = m.as_object().if_contains("Member");
      const auto* role = m.as_object().if_contains("Role");
      const auto* state = m.as_object().if_contains("State");
      if (name && role && state && name->is_string() && role->is_string()) {
        roles[std::string(name->as_string())] =
            std::string(role->as_string()) +
            (state->is_string() && state->as_string() == "running" ? "" : " (not running)");
      }
    }
    return roles;
  }
  std::string leader() const {
    for (const auto& [name, role] : roles()) {
      if (role == "Leader") return name;
    }
    return "";
  }
  // patronictl switchover|failover to `candidate`, --force; throws on a non-zero exit.
  void move_primary(const std::string& command, const std::string& candidate) const {
    detail::SpawnOptions p;
    p.argv = {"patronictl", "-c", config_, command, "--candidate", candidate, "--force"};
    p.env = env_;
    p.stdout_path = dir_ + "/" + command + ".out";
    if (detail::run(p, 60s) != 0) {
      throw std::runtime_error("patronictl " + command + " failed:\n" +
                               detail::read_file(dir_ + "/" + command + ".out"));
    }
  }
  std::string log_tail() const {
    return detail::tail_lines(detail::read_file(dir_ + "/ha-up.err"), 30);
  }

 private:
  std::string dir_;
  std::vector<std::string> env_;
  std::string dsn_;
  std::string config_;
};

// Moves the primary to `candidate` with `command` under the load; returns the longest time
// without an acknowledged write around it.
double move_primary_under_load(PatroniCluster& cluster, WriteLoad& load, const std::string& command,
                               const std::string& candidate) {
  const auto started = Clock::now();
  cluster.move_primary(command, candidate);
  EXPECT_TRUE(eventually([&] { return cluster.leader() == candidate; }, 30s))
      << command << ": " << candidate << " did not become the leader";
  const auto leader_seen = Clock::now();
  EXPECT_GE(load.recovered_after(leader_seen, 20s), 0)
      << "no write acknowledged after the " << command;
  std::this_thread::sleep_for(1s);
  const double gap = load.longest_gap(started, Clock::now());
  std::cout << "[ patroni  ] " << command << " to " << candidate << ": writes unavailable for "
            << gap << " s; patronictl + new leader listed after "
            << seconds_between(started, leader_seen) << " s\n";
  return gap;
}

}  // namespace

TEST(Patroni, SwitchoverAndFailoverUnderWriteLoadLoseNoAcknowledgedWriteOrEvent) {
  PatroniCluster cluster;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = cluster.roles();
        return r["node1"] == "Leader" && r["node2"] == "Sync Standby";
      },
      30s))
      << cluster.log_tail();
  pg_query(cluster.dsn("postgres"), "CREATE DATABASE ha");

  const Streams st = unique_streams();
  auto s = start_service(stream_env(st, {{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "3s"},
                                         {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "1s"}}),
                         cluster.dsn("ha"));
  ASSERT_TRUE(s.process->running());

  WriteLoad load(s.port);
  std::this_thread::sleep_for(1500ms);
  const double switchover_gap = move_primary_under_load(cluster, load, "switchover", "node2");
  // Synchronous again before the failover: the old primary follows as the sync standby.
  ASSERT_TRUE(eventually([&] { return cluster.roles()["node1"] == "Sync Standby"; }, 45s))
      << "node1 did not come back as the synchronous standby";
  const double failover_gap = move_primary_under_load(cluster, load, "failover", "node1");
  load.stop();

  std::cout << "[ patroni  ] answers:" << load.statuses() << "; slowest error answer "
            << load.ledger().slowest_error_s << " s\n";
  EXPECT_LT(switchover_gap, 10.0);
  EXPECT_LT(failover_gap, 10.0);
  expect_truthful_answers(load.ledger(), 3.5);
  EXPECT_TRUE(s.process->running());

  expect_outbox_drains(s, 30s);
  const std::size_t renames = expect_nothing_lost(
      load.ledger(),
      pg_query(cluster.dsn("ha"), "SELECT user_id, user_name FROM \"user\".accounts"),
      shared_redis(), st);
  std::cout << "[ patroni  ] " << load.ledger().users.size() << " accounts and " << renames
            << " renames acknowledged; none lost, every event once and in order\n";
}
