#pragma once
// HTTP/1.1 listener on Boost.Beast: timeouts, keep-alive, body limit, correlation ids, access
// log, metrics, graceful shutdown. Beast stays inside server.cpp.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "adapters/http/router.h"
#include "common/context.h"

namespace boost::asio {
class io_context;
}

namespace userservice::telemetry {
class Logger;
class Metrics;
class Tracer;
}  // namespace userservice::telemetry

namespace userservice::http {

struct ServerOptions {
  std::string name;     // "internal" | "admin" (log/metric label)
  std::string address;  // "host:port", "[v6]:port" or ":port" (all interfaces); port 0 allowed
  std::chrono::nanoseconds read_header_timeout = std::chrono::seconds(2);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds request_timeout{0};  // handler budget; 0 = none (admin listener)
  // A client that does not read its response for this long is dropped.
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(10);
  std::size_t body_limit = 64 * 1024;
  // Non-empty request bodies must be application/json (else 415). Internal listener: true.
  bool json_api = true;
  // Records a server span per request when set (must outlive the server); null: no spans.
  const telemetry::Tracer* tracer = nullptr;
  // Concurrent connections at most; 0: no cap. At the cap a new connection first makes room by
  // closing the idle keep-alive connection that has idled longest; when every connection is
  // busy it is answered 503 and closed.
  std::size_t max_connections = 0;
};

class Server {
 public:
  // `router`, `log` and `metrics` (nullable) must outlive the server and its sessions.
  Server(boost::asio::io_context& io, ServerOptions opts, const Router& router,
         telemetry::Logger& log, telemetry::Metrics* metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Resolves, binds and listens now; throws std::runtime_error("cannot listen on <addr>: ...").
  void listen();
  unsigned short port() const;  // the bound port (useful with port 0)
  // Spawns the accept loop on the io_context (call after listen()).
  void start();
  // Stops accepting, closes idle keep-alive connections, lets in-flight requests finish (their
  // response carries Connection: close), waits for all sessions or `deadline`, then force-closes
  // the rest. Handlers are cancelled on force-close; they must honour Asio cancellation.
  boost::asio::awaitable<void> shutdown(Clock::time_point deadline);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with the sessions so a late one never dangles
};

}  // namespace userservice::http
