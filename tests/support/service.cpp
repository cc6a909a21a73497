#include "support/service.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/process_util.h"
#include "support/servers.h"

namespace userservice::testing {

using namespace std::chrono_literals;

ServiceProcess::ServiceProcess(std::string binary, std::map<std::string, std::string> env)
    : binary_(std::move(binary)), env_(std::move(env)) {
  detail::ignore_sigpipe();
  dir_ = detail::make_temp_dir("userservice-svc-");
  try {
    watchdog_ = detail::CleanupWatchdog(dir_);
  } catch (...) {
    detail::remove_tree(dir_);
    throw;
  }
}

ServiceProcess::~ServiceProcess() {
  watchdog_.disarm();
  if (running_) detail::terminate(pid_, SIGKILL, 0ms);
  // The captured output is the only clue when a test against the service fails.
  if (::testing::Test::HasFailure() && !std::getenv("USERSERVICE_TEST_QUIET")) {
    std::cerr << "---- service pid " << pid_ << " stderr (tail) ----\n"
              << detail::tail_lines(stderr_text(), 40) << "\n---- stdout (tail) ----\n"
              << detail::tail_lines(stdout_text(), 40) << "\n---- end of service output ----\n";
  }
  detail::remove_tree(dir_);
}

void ServiceProcess::start() {
  if (running()) throw std::logic_error("ServiceProcess::start: already running");
  detail::SpawnOptions opts;
  opts.argv = {binary_};
  opts.argv.insert(opts.argv.end(), args_.begin(), args_.end());
  std::vector<std::string> env;
  for (const auto& [k, v] : env_) env.push_back(k + "=" + v);
  if (!env_.contains("PATH")) {
    const char* path = std::getenv("PATH");
    env.push_back(std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"));
  }
  opts.env = std::move(env);
  opts.stdout_path = dir_ + "/stdout";
  opts.stderr_path = dir_ + "/stderr";
  opts.death_signal = SIGKILL;  // no orphan service if the test binary is killed
  pid_ = detail::spawn(opts);
  running_ = true;
  exit_code_.reset();
}

bool ServiceProcess::running() {
  if (!running_) return false;
  if (auto code = detail::try_reap(pid_)) {
    running_ = false;
    exit_code_ = *code;
  }
  return running_;
}

bool ServiceProcess::wait_listening(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!running()) return false;
    if (detail::can_connect(port)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

std::optional<int> ServiceProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!running_) return exit_code_;
  if (auto code = detail::wait_exit(pid_, timeout)) {
    running_ = false;
    exit_code_ = *code;
  }
  return exit_code_;
}

void ServiceProcess::signal(int sig) {
  // Only signal a child we have not reaped: after reaping, the pid may belong to anyone.
  if (running()) ::kill(pid_, sig);
}

std::string ServiceProcess::stdout_text() const { return detail::read_file(dir_ + "/stdout"); }
std::string ServiceProcess::stderr_text() const { return detail::read_file(dir_ + "/stderr"); }

std::map<std::string, std::string> base_service_env(const std::string& pg_dsn,
                                                    const RedisServer& redis, int http_port) {
  return {
      {"USERSERVICE_REDIS_MASTER_ADDR", redis.addr()},
      {"USERSERVICE_REDIS_PASSWORD", redis.password()},
      {"USERSERVICE_POSTGRES_PRIMARY_DSN", pg_dsn},
      {"USERSERVICE_INTERNAL_HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port)},
      {"USERSERVICE_LOG_LEVEL", "debug"},
      {"OTEL_TRACES_EXPORTER", "none"},
      {"OTEL_METRICS_EXPORTER", "none"},
  };
}

}  // namespace userservice::testing
