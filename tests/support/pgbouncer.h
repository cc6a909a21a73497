#pragma once
// A throwaway PgBouncer (Debian's pgbouncer, 1.18 on bookworm) in front of a test PostgreSQL:
// every database name is passed through to that server. Trust authentication on loopback, the
// user `postgres`. Forked directly (no daemon mode) so the pid is ours to stop; as root it
// switches to the postgres user itself (`-u postgres`), since PgBouncer refuses to run as root.
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "support/process_util.h"

namespace userservice::testing {

struct PgBouncerOptions {
  int server_port = 0;                    // the PostgreSQL it pools for (127.0.0.1)
  std::string pool_mode = "transaction";  // session | transaction | statement
  int default_pool_size = 4;              // server connections per database/user pair
  int max_client_conn = 500;
};

class PgBouncer {
 public:
  explicit PgBouncer(PgBouncerOptions options);  // throws with the log tail on failure
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  void stop();  // SIGINT-free fast exit (SIGTERM), idempotent
  int port() const { return port_; }
  // "host=127.0.0.1 port=N user=postgres dbname=X connect_timeout=2"
  std::string dsn(std::string_view dbname) const;
  // Rows of an admin console command (SHOW POOLS, SHOW SERVERS, ...), as text.
  std::vector<std::vector<std::string>> admin(const std::string& command) const;
  std::string log_tail(std::size_t max_lines = 40) const;

 private:
  bool spawn_and_wait();

  PgBouncerOptions options_;
  std::string dir_;
  detail::CleanupWatchdog watchdog_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace userservice::testing
