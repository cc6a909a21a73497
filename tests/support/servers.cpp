#include "support/servers.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "support/process_util.h"

namespace userservice::testing {

namespace {

using namespace std::chrono_literals;

constexpr int kStartAttempts = 3;  // a free port can be taken between probe and bind

// Run by the watchdog ($1 = temp dir) when the test process died without cleaning up: the
// postmaster was daemonized by pg_ctl, so nothing else would ever stop it. The cmdline check
// keeps a stale pid file from signalling an unrelated process.
constexpr const char* kPgWatchdogScript = R"sh(
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && grep -qa -- "$1/data" "/proc/$pid/cmdline" 2>/dev/null; then
  kill -QUIT "$pid" 2>/dev/null
  n=0
  # A zombie is gone already; init may take seconds to reap it.
  while kill -0 "$pid" 2>/dev/null && ! grep -qE '\) [ZX] ' "/proc/$pid/stat" 2>/dev/null &&
      [ "$n" -lt 50 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  grep -qa -- "$1/data" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
fi)sh";

std::string pg_bin_dir() {
  // Overridable for machines where PostgreSQL 15 lives elsewhere.
  const char* env = std::getenv("USERSERVICE_TEST_PG_BINDIR");
  return env != nullptr && *env != '\0' ? env : "/usr/lib/postgresql/15/bin";
}

bool is_root() { return geteuid() == 0; }

// initdb, pg_ctl and postgres refuse to run as root; go through runuser (stack-notes.md).
std::vector<std::string> pg_command(const std::string& tool, std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (is_root()) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back(pg_bin_dir() + "/" + tool);
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

void chown_to_postgres(const std::string& path) {
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("running as root but there is no 'postgres' user");
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "chown postgres " + path);
  }
}

void append_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A zombie counts as gone: the daemonized postmaster is reaped by init, which may take seconds.
bool process_alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  const std::string stat = detail::read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');  // "pid (comm) S ...": comm may contain anything
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

// The postmaster is not our child (pg_ctl daemonizes it), so wait by probing its pid.
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

int free_loopback_port() {
  static std::mutex mu;
  static std::set<int> handed_out;
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      int saved = errno;
      close(fd);
      throw std::system_error(saved, std::generic_category(), "bind 127.0.0.1:0");
    }
    close(fd);
    int port = ntohs(addr.sin_port);
    if (handed_out.insert(port).second) return port;
  }
  throw std::runtime_error("free_loopback_port: no new port after 100 attempts");
}

// ---------------------------------------------------------------------------------------------
// PgServer

PgServer::PgServer() : PgServer(PgServerOptions{}) {}

PgServer::PgServer(PgServerOptions options) : options_(std::move(options)) {
  detail::ignore_sigpipe();
  dir_ = detail::make_temp_dir("userservice-pg-");
  data_dir_ = dir_ + "/data";
  log_path_ = dir_ + "/postgres.log";
  try {
    watchdog_ = detail::CleanupWatchdog(dir_, kPgWatchdogScript);
    if (is_root()) {
      // The postgres user must own the data and socket dirs; mkdtemp made it 0700 root.
      chown_to_postgres(dir_);
    }
    if (options_.standby_of != nullptr) {
      base_backup(*options_.standby_of);
    } else {
      init_cluster();
    }
    if (!options_.extra_conf.empty()) {
      append_file(data_dir_ + "/postgresql.conf", "\n" + options_.extra_conf + "\n");
    }
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      write_file(data_dir_ + "/userservice_port.conf", "port = " + std::to_string(port_) + "\n");
      try {
        start_or_throw();
        break;
      } catch (const std::runtime_error&) {
        const bool port_taken = log_tail(20).find("could not bind") != std::string::npos;
        if (!port_taken || attempt >= kStartAttempts) throw;
      }
    }
  } catch (...) {
    watchdog_.disarm();
    stop();
    detail::remove_tree(dir_);
    throw;
  }
}

PgServer::~PgServer() {
  watchdog_.disarm();  // we clean up ourselves; the watchdog must not race us
  try {
    stop();
  } catch (...) {
  }
  detail::remove_tree(dir_);
}

void PgServer::init_cluster() {
  const std::string cmd_log = dir_ + "/initdb.log";
  detail::SpawnOptions opts;
  // C locale: present on every machine, and byte-order collation makes ORDER BY predictable.
  opts.argv = pg_command("initdb", {"--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                    "--locale=C", "-D", data_dir_});
  opts.stdout_path = cmd_log;
  opts.cwd = dir_;  // runuser keeps the cwd; postgres may not be allowed into ours
  int code = detail::run(opts);
  if (code != 0) {
    throw std::runtime_error("initdb failed (exit " + std::to_string(code) + "):\n" +
                             detail::tail_lines(detail::read_file(cmd_log), 30));
  }
  // Durability is irrelevant for a throwaway cluster; speed is not. Port lives in its own file
  // so a retry on another port only rewrites that.
  std::string conf =
      "\n# userservice test cluster\n"
      "listen_addresses = '127.0.0.1'\n"
      "fsync = off\n"
      "synchronous_commit = off\n"
      "full_page_writes = off\n"
      "max_connections = 300\n"
      "shared_buffers = 32MB\n"
      "include_if_exists = 'userservice_port.conf'\n";
  conf += "unix_socket_directories = '" + dir_ + "'\n";
  append_file(data_dir_ + "/postgresql.conf", conf);
}

// A standby: a copy of the running primary taken over the replication protocol, with
// primary_conninfo and standby.signal written by -R. The copy brings the primary's
// postgresql.conf (port file and socket dir included): both are pointed at this server.
void PgServer::base_backup(const PgServer& primary) {
  const std::string cmd_log = dir_ + "/pg_basebackup.log";
  detail::SpawnOptions opts;
  opts.argv = pg_command("pg_basebackup",
                         {"-h", "127.0.0.1", "-p", std::to_string(primary.port()), "-U", "postgres",
                          "-D", data_dir_, "-R", "-X", "stream", "--no-sync", "-c", "fast"});
  opts.stdout_path = cmd_log;
  opts.cwd = dir_;
  int code = detail::run(opts);
  if (code != 0) {
    throw std::runtime_error("pg_basebackup failed (exit " + std::to_string(code) + "):\n" +
                             detail::tail_lines(detail::read_file(cmd_log), 30));
  }
  append_file(data_dir_ + "/postgresql.conf",
              "\n# userservice test standby\nunix_socket_directories = '" + dir_ + "'\n");
}

void PgServer::start_or_throw() {
  const std::string cmd_log = dir_ + "/pg_ctl.log";
  detail::SpawnOptions opts;
  opts.argv = pg_command("pg_ctl", {"-D", data_dir_, "-l", log_path_, "-w", "-t", "30", "start"});
  opts.stdout_path = cmd_log;
  opts.cwd = dir_;
  int code = detail::run(opts);
  if (code != 0) {
    throw std::runtime_error("PostgreSQL failed to start on 127.0.0.1:" + std::to_string(port_) +
                             " (pg_ctl exit " + std::to_string(code) + "):\n" +
                             detail::tail_lines(detail::read_file(cmd_log), 10) + "\n" +
                             log_tail());
  }
}

void PgServer::start() {
  if (running()) return;
  start_or_throw();
}

void PgServer::stop() { stop_with_mode("fast"); }

void PgServer::crash() { stop_with_mode("immediate"); }

void PgServer::promote() {
  detail::SpawnOptions opts;
  opts.argv = pg_command("pg_ctl", {"-D", data_dir_, "-w", "-t", "30", "promote"});
  opts.stdout_path = dir_ + "/pg_ctl.log";
  opts.cwd = dir_;
  if (int code = detail::run(opts); code != 0) {
    throw std::runtime_error("pg_ctl promote failed (exit " + std::to_string(code) + "):\n" +
                             detail::tail_lines(detail::read_file(dir_ + "/pg_ctl.log"), 10) +
                             "\n" + log_tail());
  }
}

bool PgServer::in_recovery() {
  return query(dsn(), "SELECT pg_is_in_recovery()").at(0).at(0) == "t";
}

bool PgServer::wait_caught_up(PgServer& primary, std::chrono::milliseconds timeout) {
  // The insert position, not pg_current_wal_lsn() (the write position): with the test
  // clusters' synchronous_commit=off a commit is acknowledged before the WAL writer has written
  // it, so the write position can still be behind a commit the test already saw. Then one
  // locally synchronous commit with an xid: WAL past that position exists and is flushed, so
  // the standby can replay past it even when nothing else is written (the insert position may
  // point just past a page header).
  const std::string lsn =
      primary.query(primary.dsn(), "SELECT pg_current_wal_insert_lsn()").at(0).at(0);
  primary.query(primary.dsn(), "SET synchronous_commit = local; SELECT txid_current()");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (query(dsn(), "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn").at(0).at(0) ==
        "t") {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void PgServer::stop_with_mode(const char* mode) {
  pid_t pid = postmaster_pid();
  if (!process_alive(pid)) return;
  detail::SpawnOptions opts;
  opts.argv = pg_command("pg_ctl", {"-D", data_dir_, "-m", mode, "-w", "-t", "30", "stop"});
  opts.stdout_path = dir_ + "/pg_ctl.log";
  opts.cwd = dir_;
  try {
    if (detail::run(opts) == 0 && wait_gone(pid, 5s)) return;
  } catch (...) {
    // Fall through to signals: stop() must leave no server behind.
  }
  kill(pid, SIGQUIT);  // immediate shutdown
  if (!wait_gone(pid, 5s)) {
    kill(pid, SIGKILL);
    wait_gone(pid, 5s);
  }
}

bool PgServer::running() const { return process_alive(postmaster_pid()); }

pid_t PgServer::postmaster_pid() const {
  std::ifstream in(data_dir_ + "/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  // A stale pid file (crashed server) may name a recycled pid: only trust it when that process
  // is a postgres serving our data dir, so stop() can never signal a stranger.
  const std::string cmdline = detail::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.empty() && cmdline.find(data_dir_) == std::string::npos) return 0;
  return static_cast<pid_t>(pid);
}

std::string PgServer::dsn(std::string_view dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " user=postgres dbname=" + std::string(dbname) + " connect_timeout=2";
}

std::string PgServer::create_database() {
  std::string name = "test_" + std::to_string(++next_db_);
  query(dsn(), "CREATE DATABASE " + name);
  return dsn(name);
}

std::vector<std::vector<std::string>> PgServer::query(const std::string& dsn,
                                                      const std::string& sql) {
  std::unique_ptr<PGconn, PgConnDeleter> conn(PQconnectdb(dsn.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("PostgreSQL connect (" + dsn + ") failed: " +
                             trim_trailing_newlines(conn ? PQerrorMessage(conn.get()) : "oom"));
  }
  // PQexec runs a multi-statement script and returns the last statement's result.
  std::unique_ptr<PGresult, PgResultDeleter> res(PQexec(conn.get(), sql.c_str()));
  const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY) {
    throw std::runtime_error(
        "PostgreSQL query failed: " +
        trim_trailing_newlines(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn.get())) +
        "\nSQL: " + sql);
  }
  std::vector<std::vector<std::string>> rows;
  if (status != PGRES_TUPLES_OK) return rows;
  const int nrows = PQntuples(res.get());
  const int ncols = PQnfields(res.get());
  rows.reserve(nrows);
  for (int r = 0; r < nrows; ++r) {
    auto& row = rows.emplace_back();
    row.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res.get(), r, c)) {
        row.emplace_back("<null>");
      } else {
        row.emplace_back(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c));
      }
    }
  }
  return rows;
}

std::string PgServer::log_tail(std::size_t max_lines) const {
  return detail::tail_lines(detail::read_file(log_path_), max_lines);
}

PgServer& shared_pg() {
  // Function-local static: built on first use, destroyed (stopped, dir removed) at exit.
  static PgServer server;
  if (!server.running()) server.start();  // a test may have stopped it
  return server;
}

// ---------------------------------------------------------------------------------------------
// RedisServer

RedisServer::RedisServer(std::string password) : RedisServer(std::move(password), {}) {}

RedisServer::RedisServer(std::string password, std::vector<std::string> extra_args)
    : password_(std::move(password)), extra_args_(std::move(extra_args)) {
  detail::ignore_sigpipe();
  dir_ = detail::make_temp_dir("userservice-redis-");
  log_path_ = dir_ + "/redis.log";
  try {
    watchdog_ = detail::CleanupWatchdog(dir_);
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      if (spawn_and_wait()) break;
      const bool port_taken = log_tail(20).find("Address already in use") != std::string::npos;
      if (!port_taken || attempt >= kStartAttempts) {
        throw std::runtime_error("redis-server failed to start on " + addr() + ":\n" + log_tail());
      }
    }
  } catch (...) {
    watchdog_.disarm();
    stop();
    detail::remove_tree(dir_);
    throw;
  }
}

RedisServer::~RedisServer() {
  watchdog_.disarm();
  stop();
  detail::remove_tree(dir_);
}

bool RedisServer::spawn_and_wait() {
  detail::SpawnOptions opts;
  // No config file: defaults plus these. Logs go to stdout, which is captured to redis.log.
  opts.argv = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no",     "--daemonize",         "no",     "--dir",     dir_};
  if (!password_.empty()) {
    opts.argv.push_back("--requirepass");
    opts.argv.push_back(password_);
  }
  opts.argv.insert(opts.argv.end(), extra_args_.begin(), extra_args_.end());
  opts.stdout_path = log_path_;
  opts.cwd = dir_;
  opts.death_signal = SIGKILL;  // no orphan Redis if the test binary is killed
  pid_ = detail::spawn(opts);

  // Ready when *our* process answers: the pid check rules out another server on the same port.
  const std::string needle = "process_id:" + std::to_string(pid_) + "\r";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (detail::try_reap(pid_)) {
      pid_ = 0;
      return false;
    }
    if (detail::can_connect(port_)) {
      try {
        auto info = command_reply({"INFO", "server"});
        if (info.str.find(needle) != std::string::npos) return true;
      } catch (const std::exception&) {
        // Loading or not yet accepting commands: retry.
      }
    }
    std::this_thread::sleep_for(10ms);
  }
  detail::terminate(pid_, SIGKILL, 0ms);
  pid_ = 0;
  return false;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  detail::terminate(pid_, SIGTERM, 5s);
  pid_ = 0;
}

void RedisServer::start() {
  if (running()) return;
  if (!spawn_and_wait()) {
    throw std::runtime_error("redis-server failed to restart on " + addr() + ":\n" + log_tail());
  }
}

bool RedisServer::running() {
  if (pid_ <= 0) return false;
  if (detail::try_reap(pid_)) {
    pid_ = 0;
    return false;
  }
  return true;
}

std::string RedisServer::addr() const { return "127.0.0.1:" + std::to_string(port_); }

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      out.str = std::to_string(r->integer);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    case REDIS_REPLY_ERROR:
      throw std::runtime_error("redis error reply: " + std::string(r->str, r->len));
    case REDIS_REPLY_NIL:
    default:
      out.type = RedisReply::Type::nil;
      break;
  }
  return out;
}

void flatten(const RedisReply& reply, std::vector<std::string>& out) {
  switch (reply.type) {
    case RedisReply::Type::array:
      for (const auto& e : reply.elements) flatten(e, out);
      break;
    case RedisReply::Type::nil:
      out.emplace_back("<nil>");
      break;
    default:
      out.push_back(reply.str);
  }
}

}  // namespace

RedisReply RedisServer::command_reply(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("RedisServer::command: empty argv");
  timeval connect_timeout{2, 0};
  std::unique_ptr<redisContext, RedisContextDeleter> ctx(
      redisConnectWithTimeout("127.0.0.1", port_, connect_timeout));
  if (!ctx || ctx->err) {
    throw std::runtime_error("redis connect " + addr() +
                             " failed: " + (ctx ? std::string(ctx->errstr) : "oom"));
  }
  timeval io_timeout{5, 0};
  redisSetTimeout(ctx.get(), io_timeout);

  auto exec = [&](const std::vector<std::string>& args) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    RedisReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(args.size()), ptrs.data(), lens.data())));
    if (!reply) {
      throw std::runtime_error("redis " + args[0] + " on " + addr() +
                               " failed: " + std::string(ctx->errstr));
    }
    return reply;
  };
  if (!password_.empty()) convert(exec({"AUTH", password_}).get());
  return convert(exec(argv).get());
}

std::vector<std::string> RedisServer::command(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  flatten(command_reply(argv), out);
  return out;
}

std::string RedisServer::log_tail(std::size_t max_lines) const {
  return detail::tail_lines(detail::read_file(log_path_), max_lines);
}

RedisServer& shared_redis() {
  static RedisServer server("test-secret");
  if (!server.running()) server.start();
  return server;
}

}  // namespace userservice::testing
