#pragma once
// The real service binary as a child process of the test, with an exact environment and its
// stdout/stderr captured to files.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/process_util.h"

namespace userservice::testing {

class RedisServer;

class ServiceProcess {
 public:
  // `binary`: path of the executable (tests pass USERSERVICE_BINARY). `env` is the child's whole
  // environment; only PATH is added (from ours) when `env` has none.
  ServiceProcess(std::string binary, std::map<std::string, std::string> env);
  ~ServiceProcess();  // SIGKILL if still running, reap, remove the capture dir
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // Starts the binary (again, after it exited: output keeps being appended to the same files).
  // Throws std::logic_error if it is running, std::system_error if it cannot be executed.
  void start();
  // Polls until a TCP connect to 127.0.0.1:port succeeds (true), or the process exits or the
  // timeout passes (false).
  bool wait_listening(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for exit; the exit code (or 128 + signal), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  void signal(int sig);  // no-op when not running
  bool running();
  pid_t pid() const { return pid_; }  // 0 before start(); stays set after exit
  std::optional<int> exit_code() const { return exit_code_; }  // set once reaped

  std::string stdout_text() const;  // everything captured so far
  std::string stderr_text() const;
  // Command-line arguments after argv[0] for the next start() (none by default).
  void set_args(std::vector<std::string> args) { args_ = std::move(args); }
  const std::map<std::string, std::string>& env() const { return env_; }
  std::map<std::string, std::string>& env() { return env_; }  // edit between runs

 private:
  std::string binary_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> args_;
  std::string dir_;
  detail::CleanupWatchdog watchdog_;  // removes dir_ if the test binary is killed
  pid_t pid_ = 0;
  bool running_ = false;
  std::optional<int> exit_code_;
};

// The environment a healthy service needs: USERSERVICE_REDIS_MASTER_ADDR,
// USERSERVICE_REDIS_PASSWORD, USERSERVICE_POSTGRES_PRIMARY_DSN,
// USERSERVICE_INTERNAL_HTTP_ADDR=127.0.0.1:<http_port>, USERSERVICE_LOG_LEVEL=debug,
// OTEL_TRACES_EXPORTER=none, OTEL_METRICS_EXPORTER=none.
std::map<std::string, std::string> base_service_env(const std::string& pg_dsn,
                                                    const RedisServer& redis, int http_port);

}  // namespace userservice::testing
