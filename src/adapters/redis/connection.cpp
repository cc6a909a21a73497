#include "adapters/redis/connection.h"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "common/host_port.h"

namespace userservice::redis {

namespace {

timeval to_timeval(std::chrono::nanoseconds d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

}  // namespace

std::unique_ptr<Connection> Connection::open(const ConnectOptions& o) {
  const auto parts = split_host_port(o.addr);
  if (!parts) throw RedisError("redis address " + o.addr + " is not host:port");
  const std::string host(parts->host);
  const int port = parse_port(parts->port).value_or(0);

  // Connecting may take longer than one command; never less than a second.
  auto connect_timeout =
      std::max<std::chrono::nanoseconds>(o.operation_timeout, std::chrono::seconds(1));
  redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, to_timeval(connect_timeout));
  if (!ctx) throw RedisError("cannot connect to redis at " + o.addr + ": out of memory");
  if (ctx->err) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    throw RedisError("cannot connect to redis at " + o.addr + ": " + why);
  }
  // Replies are built as Reply values, with a cap on announced array sizes (reply.h).
  ctx->reader->fn = const_cast<redisReplyObjectFunctions*>(&reply_functions());
  std::unique_ptr<Connection> conn(new Connection(ctx, o.operation_timeout));
  redisSetTimeout(ctx, to_timeval(o.operation_timeout));

  auto expect_ok = [&](const std::vector<std::string_view>& argv, std::string_view what) {
    Reply r = conn->command(argv);
    if (r.type == Reply::Type::error) {
      throw RedisError("redis at " + o.addr + " refused " + std::string(what) + ": " + r.str);
    }
  };
  if (!o.password.empty()) expect_ok({"AUTH", o.password}, "AUTH");
  if (o.db != 0) {
    std::string db = std::to_string(o.db);
    expect_ok({"SELECT", db}, "SELECT " + db);
  }
  Reply pong = conn->command({"PING"});
  if (pong.type == Reply::Type::error) {
    throw RedisError("redis at " + o.addr + " refused PING: " + pong.str);
  }
  return conn;
}

Connection::~Connection() {
  if (ctx_) redisFree(ctx_);
}

Reply Connection::command(const std::vector<std::string_view>& argv) {
  if (broken_) throw RedisError("redis connection is broken");
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  void* reply = redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data());
  if (!reply) {
    broken_ = true;  // hiredis contexts are unusable after an I/O error or timeout
    throw RedisError(std::string("redis I/O error: ") +
                     (ctx_->errstr[0] ? ctx_->errstr : "timeout"));
  }
  return take_reply(reply);
}

Reply Connection::command(const std::vector<std::string_view>& argv,
                          std::chrono::nanoseconds timeout) {
  redisSetTimeout(ctx_, to_timeval(timeout));
  Reply r = command(argv);
  redisSetTimeout(ctx_, to_timeval(timeout_));
  return r;
}

}  // namespace userservice::redis
