#pragma once
// A blocking hiredis connection. Redis is never on a request path: this is used at
// startup (AUTH, SELECT, PING) and by the background event relay.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/redis/reply.h"

struct redisContext;

namespace userservice::redis {

class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConnectOptions {
  std::string addr;  // host:port
  std::string password;
  int db = 0;
  std::chrono::nanoseconds operation_timeout = std::chrono::milliseconds(250);
};

class Connection {
 public:
  // Connects, authenticates (when a password is set), selects the db and pings.
  // Throws RedisError with a message fit for the startup line.
  static std::unique_ptr<Connection> open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One command; a Redis error reply comes back as Type::error, I/O failures throw.
  Reply command(const std::vector<std::string_view>& argv);
  // Same, with its own I/O timeout instead of the operation timeout (e.g. WAIT).
  Reply command(const std::vector<std::string_view>& argv, std::chrono::nanoseconds timeout);
  bool broken() const noexcept { return broken_; }

 private:
  Connection(redisContext* ctx, std::chrono::nanoseconds timeout) : ctx_(ctx), timeout_(timeout) {}
  redisContext* ctx_;
  std::chrono::nanoseconds timeout_;
  bool broken_ = false;
};

}  // namespace userservice::redis
