#pragma once
// Throwaway PostgreSQL and Redis servers for integration tests. Each instance owns a fresh temp
// dir and its server process; destructors stop the process (by pid, never by name) and remove the
// dir, so a failing test leaves nothing behind. query(), command() and create_database() may be
// called from helper threads; construct, start and stop from the test's main thread.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/process_util.h"

namespace userservice::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose, closes. Never hands out the same port twice
// within one process, so two servers started back to back cannot collide with each other.
int free_loopback_port();

class PgServer;

struct PgServerOptions {
  // Appended to postgresql.conf (after the test defaults, so it overrides them), e.g.
  // "synchronous_standby_names = '*'\nsynchronous_commit = on\n".
  std::string extra_conf;
  // A streaming standby of this running server: `pg_basebackup -R -X stream` instead of initdb.
  // The standby copies the primary's configuration; extra_conf is appended after it.
  const PgServer* standby_of = nullptr;
};

// A throwaway PostgreSQL 15 cluster on a free loopback port. As root, every PostgreSQL binary runs
// through `runuser -u postgres --` and the temp dir is owned by postgres.
class PgServer {
 public:
  PgServer();  // initdb + start; throws std::runtime_error with the server log tail on failure
  explicit PgServer(PgServerOptions options);
  ~PgServer();  // stop (fast) + remove the temp dir; never throws
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  void stop();  // pg_ctl -m fast stop; idempotent
  // pg_ctl -m immediate stop: what a crash or a power cut looks like to clients (no shutdown
  // checkpoint, sessions cut without a goodbye). Idempotent.
  void crash();
  // A standby becomes a primary (pg_ctl promote -w). Throws on failure.
  void promote();
  // True while the server is a standby (pg_is_in_recovery()).
  bool in_recovery();
  // Blocks until the standby has replayed everything `primary` had written when this was
  // called (pg_current_wal_insert_lsn on the primary <= pg_last_wal_replay_lsn here); false on
  // timeout.
  bool wait_caught_up(PgServer& primary, std::chrono::milliseconds timeout);
  void start();  // start again on the SAME port and data dir; no-op when running
  bool running() const;
  int port() const { return port_; }
  // "host=127.0.0.1 port=N user=postgres dbname=X connect_timeout=2"
  std::string dsn(std::string_view dbname = "postgres") const;
  // CREATE DATABASE test_<n> (unique within this server); returns its dsn.
  std::string create_database();
  // Runs SQL (may be several statements) synchronously through libpq; returns the rows of the
  // last statement as text, NULL as "<null>". Throws std::runtime_error on any error.
  std::vector<std::vector<std::string>> query(const std::string& dsn, const std::string& sql);

  const std::string& dir() const { return dir_; }  // the temp dir (data/, postgres.log)
  std::string log_tail(std::size_t max_lines = 40) const;

 private:
  void init_cluster();
  void base_backup(const PgServer& primary);
  void stop_with_mode(const char* mode);
  void start_or_throw();
  pid_t postmaster_pid() const;  // from postmaster.pid; 0 when absent

  std::string dir_;
  detail::CleanupWatchdog watchdog_;  // stops the server and removes dir_ if we are killed
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  PgServerOptions options_;
  std::atomic<int> next_db_{0};  // tests call query/create_database from helper threads too
};

// One cluster per test process, started on first use, stopped at process exit.
PgServer& shared_pg();

// A reply of one Redis command, as a tree (arrays nest, e.g. XRANGE).
struct RedisReply {
  enum class Type { string, status, integer, nil, array };
  Type type = Type::nil;
  std::string str;        // string/status text
  long long integer = 0;  // integer replies
  std::vector<RedisReply> elements;
};

// A throwaway Redis 7 (`redis-server`) on a free loopback port without persistence, optionally
// with `--requirepass`. Forked directly (no daemonize) so the child pid is ours to stop.
class RedisServer {
 public:
  explicit RedisServer(std::string password = "");
  // With extra redis-server arguments, e.g. {"--replicaof", "127.0.0.1", "6379"}.
  RedisServer(std::string password, std::vector<std::string> extra_args);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void stop();   // SIGTERM, then SIGKILL after 5 s; idempotent
  void start();  // start again on the SAME port (empty dataset); no-op when running
  bool running();
  int port() const { return port_; }
  std::string addr() const;  // "127.0.0.1:PORT"
  const std::string& password() const { return password_; }
  pid_t pid() const { return pid_; }

  // Runs one command (AUTH first when there is a password) on a fresh connection. Strings,
  // statuses and integers become one element; arrays are flattened depth-first; nil is "<nil>".
  // Throws std::runtime_error on an error reply or when the server cannot be reached.
  std::vector<std::string> command(const std::vector<std::string>& argv);
  // Same, but keeps the reply's structure.
  RedisReply command_reply(const std::vector<std::string>& argv);

  const std::string& dir() const { return dir_; }  // the temp dir (redis.log)
  std::string log_tail(std::size_t max_lines = 40) const;

 private:
  bool spawn_and_wait();  // false if the child exited during start-up

  std::string password_;
  std::vector<std::string> extra_args_;
  std::string dir_;
  detail::CleanupWatchdog watchdog_;  // removes dir_ if we are killed (Redis dies by itself)
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// One Redis per test process (password "test-secret"), started on first use, stopped at exit.
RedisServer& shared_redis();

}  // namespace userservice::testing
