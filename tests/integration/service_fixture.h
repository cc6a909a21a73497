#pragma once
// Starts the real userservice binary against the shared throwaway PostgreSQL (a fresh
// database per service) and Redis.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "support/http_client.h"
#include "support/servers.h"
#include "support/service.h"

namespace userservice::testing {

struct RunningService {
  std::string dsn;
  int port = 0;
  int admin_port = 0;
  std::unique_ptr<ServiceProcess> process;

  HttpResponse call(std::string method, std::string target, std::string body = "",
                    std::map<std::string, std::string> headers = {}) const {
    return http(port, std::move(method), std::move(target), std::move(body), std::move(headers));
  }
  std::vector<std::vector<std::string>> sql(const std::string& q) const {
    return shared_pg().query(dsn, q);
  }
};

// `extra` overrides or adds variables; a value of "<unset>" removes one.
inline std::map<std::string, std::string> service_env(
    const std::string& dsn, int port, const std::map<std::string, std::string>& extra = {}) {
  auto env = base_service_env(dsn, shared_redis(), port);
  for (const auto& [k, v] : extra) {
    if (v == "<unset>") {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  return env;
}

inline RunningService start_service(const std::map<std::string, std::string>& extra = {},
                                    std::string dsn = "") {
  RunningService s;
  s.dsn = dsn.empty() ? shared_pg().create_database() : dsn;
  s.port = free_loopback_port();
  auto env = service_env(s.dsn, s.port, extra);
  if (env.count("USERSERVICE_ADMIN_HTTP_ADDR") && env["USERSERVICE_ADMIN_HTTP_ADDR"] == "auto") {
    s.admin_port = free_loopback_port();
    env["USERSERVICE_ADMIN_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(s.admin_port);
  }
  s.process = std::make_unique<ServiceProcess>(USERSERVICE_BINARY, env);
  s.process->start();
  // The "listening" log line, not a successful connect, proves that THIS process bound its
  // ports: a connect alone could reach some other process that holds a recycled port.
  bool listening = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until && s.process->running()) {
    if (s.process->stdout_text().find("\"msg\":\"listening\"") != std::string::npos) {
      listening = s.process->wait_listening(s.port, std::chrono::seconds(5));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!listening) {
    ADD_FAILURE() << "service did not start listening\nstdout:\n"
                  << s.process->stdout_text() << "\nstderr:\n"
                  << s.process->stderr_text();
  }
  return s;
}

}  // namespace userservice::testing
