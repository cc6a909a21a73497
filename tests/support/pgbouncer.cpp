#include "support/pgbouncer.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "support/servers.h"

namespace userservice::testing {

namespace {

using namespace std::chrono_literals;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
  chmod(path.c_str(), 0644);  // read by the postgres user PgBouncer switches to
}

}  // namespace

PgBouncer::PgBouncer(PgBouncerOptions options) : options_(std::move(options)) {
  detail::ignore_sigpipe();
  dir_ = detail::make_temp_dir("userservice-pgbouncer-");
  log_path_ = dir_ + "/pgbouncer.log";
  try {
    watchdog_ = detail::CleanupWatchdog(dir_);
    chmod(dir_.c_str(), 0755);
    write_file(dir_ + "/users.txt", "\"postgres\" \"\"\n");
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      if (spawn_and_wait()) break;
      if (log_tail(20).find("Address already in use") == std::string::npos || attempt >= 3) {
        throw std::runtime_error("pgbouncer failed to start:\n" + log_tail());
      }
    }
  } catch (...) {
    watchdog_.disarm();
    stop();
    detail::remove_tree(dir_);
    throw;
  }
}

PgBouncer::~PgBouncer() {
  watchdog_.disarm();
  stop();
  detail::remove_tree(dir_);
}

bool PgBouncer::spawn_and_wait() {
  const std::string ini = dir_ + "/pgbouncer.ini";
  write_file(ini,
             "[databases]\n"
             "* = host=127.0.0.1 port=" +
                 std::to_string(options_.server_port) +
                 "\n"
                 "[pgbouncer]\n"
                 "listen_addr = 127.0.0.1\n"
                 "listen_port = " +
                 std::to_string(port_) +
                 "\n"
                 "unix_socket_dir =\n"
                 "auth_type = trust\n"
                 "auth_file = " +
                 dir_ +
                 "/users.txt\n"
                 "admin_users = postgres\n"
                 "pool_mode = " +
                 options_.pool_mode +
                 "\n"
                 "default_pool_size = " +
                 std::to_string(options_.default_pool_size) +
                 "\n"
                 "max_client_conn = " +
                 std::to_string(options_.max_client_conn) +
                 "\n"
                 "server_login_retry = 1\n");
  detail::SpawnOptions opts;
  opts.argv = {"pgbouncer"};
  if (geteuid() == 0) {
    opts.argv.push_back("-u");
    opts.argv.push_back("postgres");
  }
  opts.argv.push_back(ini);
  opts.stdout_path = log_path_;
  opts.cwd = dir_;
  opts.death_signal = SIGKILL;  // no orphan pooler if the test binary is killed
  pid_ = detail::spawn(opts);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (detail::try_reap(pid_)) {
      pid_ = 0;
      return false;
    }
    if (detail::read_file(log_path_).find("process up") != std::string::npos &&
        detail::can_connect(port_)) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  detail::terminate(pid_, SIGKILL, 0ms);
  pid_ = 0;
  return false;
}

void PgBouncer::stop() {
  if (pid_ <= 0) return;
  detail::terminate(pid_, SIGTERM, 5s);
  pid_ = 0;
}

std::string PgBouncer::dsn(std::string_view dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " user=postgres dbname=" + std::string(dbname) + " connect_timeout=2";
}

std::vector<std::vector<std::string>> PgBouncer::admin(const std::string& command) const {
  // The admin console speaks the simple-query protocol only.
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(dsn("pgbouncer").c_str()),
                                                    &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("pgbouncer admin: " + std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), command.c_str()), &PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK &&
      PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error("pgbouncer admin " + command + ": " + PQresultErrorMessage(res.get()));
  }
  std::vector<std::vector<std::string>> rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(res.get()); ++c) {
      row.emplace_back(PQgetisnull(res.get(), r, c) ? "<null>" : PQgetvalue(res.get(), r, c));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string PgBouncer::log_tail(std::size_t max_lines) const {
  return detail::tail_lines(detail::read_file(log_path_), max_lines);
}

}  // namespace userservice::testing
