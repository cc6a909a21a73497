// High availability on PostgreSQL's own machinery (docs/scaling.md): a real streaming standby
// (pg_basebackup -R), a real crash of the primary and a real promotion (pg_ctl promote). The
// service is given both hosts in one libpq multi-host DSN with target_session_attrs=read-write
// and is never restarted: its pool, outbox relay and sweeper must find the new primary by
// themselves, answer 503 (or 504 for a write in doubt) in between, within the request deadline,
// and lose no acknowledged write and no event when replication is synchronous.
#include <iostream>
#include <thread>

#include "integration/ha_load_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;
using namespace userservice::testing::events;
using namespace userservice::testing::ha;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The primary waits for the standby's flush before it acknowledges a commit. The test clusters
// turn synchronous_commit off for speed; these clusters need it on.
constexpr const char* kSyncPrimaryConf =
    "synchronous_commit = on\n"
    "synchronous_standby_names = '*'\n";
// Once promoted the standby is alone: it must not wait for a standby of its own (Patroni's
// synchronous_mode does the same when no synchronous candidate is left).
constexpr const char* kStandbyConf = "synchronous_standby_names = ''\n";

std::string multi_host_dsn(const PgServer& first, const PgServer& second, const std::string& db) {
  return "host=127.0.0.1,127.0.0.1 port=" + std::to_string(first.port()) + "," +
         std::to_string(second.port()) + " user=postgres dbname=" + db +
         " connect_timeout=2 target_session_attrs=read-write";
}

}  // namespace

TEST(Failover, PromotedStandbyTakesOverWithoutARestartAndLosesNoAcknowledgedWriteOrEvent) {
  PgServer primary(PgServerOptions{kSyncPrimaryConf, nullptr});
  // Before the standby exists nothing could confirm a synchronous commit: this one is local.
  primary.query(primary.dsn() + " options='-c synchronous_commit=local'", "CREATE DATABASE ha");
  PgServer standby(PgServerOptions{kStandbyConf, &primary});
  ASSERT_TRUE(standby.in_recovery());
  // Synchronous: the standby is the primary's synchronous standby before any load starts.
  ASSERT_TRUE(eventually(
      [&] {
        return primary
                   .query(primary.dsn(),
                          "SELECT count(*) FROM pg_stat_replication "
                          "WHERE sync_state = 'sync'")
                   .at(0)
                   .at(0) == "1";
      },
      10s));

  const Streams st = unique_streams();
  const std::string dsn = multi_host_dsn(primary, standby, "ha");
  auto s = start_service(stream_env(st, {{"USERSERVICE_INTERNAL_HTTP_REQUEST_TIMEOUT", "3s"},
                                         {"USERSERVICE_POSTGRES_OPERATION_TIMEOUT", "1s"}}),
                         dsn);
  ASSERT_TRUE(s.process->running());
  RedisServer& redis = shared_redis();

  // Four writers, without pause, all through the crash and the promotion. 2xx is acknowledged;
  // 503 and 504 are the only other answers the contract allows here, each within the request
  // deadline.
  WriteLoad load(s.port);
  std::this_thread::sleep_for(1500ms);
  const auto crashed_at = Clock::now();
  primary.crash();
  std::this_thread::sleep_for(1s);  // what a failover manager takes at the very least
  standby.promote();
  const auto promoted_at = Clock::now();
  const double recovery_s = load.recovered_after(promoted_at, 20s);
  ASSERT_GE(recovery_s, 0) << tail_of(s.process->stdout_text());
  std::this_thread::sleep_for(1500ms);  // steady load on the new primary
  load.stop();

  std::cout << "[ failover ] crash -> promotion " << seconds_between(crashed_at, promoted_at)
            << " s; first acknowledged write " << recovery_s << " s after the promotion; "
            << "writes unavailable for "
            << load.longest_gap(crashed_at, *load.first_ack_after(promoted_at))
            << " s; answers:" << load.statuses() << "; slowest error answer "
            << load.ledger().slowest_error_s << " s\n";
  EXPECT_LT(recovery_s, 5.0);
  expect_truthful_answers(load.ledger(), 3.5);
  EXPECT_TRUE(s.process->running());

  // Nothing acknowledged lost, every event once and in order, read from the new primary.
  expect_outbox_drains(s, 20s);
  const std::size_t acked_renames = expect_nothing_lost(
      load.ledger(),
      standby.query(standby.dsn("ha"), "SELECT user_id, user_name FROM \"user\".accounts"), redis,
      st);
  std::cout << "[ failover ] " << load.ledger().users.size() << " accounts and " << acked_renames
            << " renames acknowledged; none lost, every event once and in order\n";
  EXPECT_NE(s.process->stdout_text().find("outbox relay reconnected to postgres"),
            std::string::npos);
}
