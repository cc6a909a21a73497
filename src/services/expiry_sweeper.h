#pragma once
// The expiry sweeper (api.md §9): on the process's io_context, every
// USERSERVICE_EXPIRY_SWEEP_INTERVAL, it expires lapsed entitlements, sanctions and limits in
// small batches, each batch one short statement (CommandStore::expire_due). Reads never wait
// for it (they apply expiry themselves); it only repairs the stored state and writes the
// history records and events, exactly once even with several instances sweeping one
// database. Failures (a database restart, a timeout) are logged and the next tick retries.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>

#include "common/periodic_task.h"
#include "domain/random.h"
#include "domain/time.h"
#include "services/command_store.h"
#include "services/idempotency.h"

namespace userservice::telemetry {
class Logger;
}

namespace userservice::services {}  // namespace userservice::services

namespace userservice::telemetry {
class Metrics;
}  // namespace userservice::telemetry

namespace userservice::services {

struct ExpirySweeperOptions {
  std::chrono::nanoseconds interval = std::chrono::seconds(30);
  int batch_size = 100;
  // Bound on one batch statement (the pool's operation timeout applies too).
  std::chrono::nanoseconds batch_timeout = std::chrono::seconds(10);
  telemetry::Metrics* metrics = nullptr;  // passes and expired items; null: not counted
  // Idempotency-Key answers past their time to live are deleted too, in batches of
  // `key_batch_size`; null: not swept.
  IdempotencyStore* keys = nullptr;
  int key_batch_size = 1000;
};

class ExpirySweeper {
 public:
  using NowFn = std::function<domain::TimePoint()>;

  ExpirySweeper(boost::asio::any_io_executor ex, CommandStore& store, domain::RandomSource& random,
                NowFn now, telemetry::Logger& log, ExpirySweeperOptions options);
  ExpirySweeper(const ExpirySweeper&) = delete;
  ExpirySweeper& operator=(const ExpirySweeper&) = delete;

  // Starts the loop: a pass right away, then one per interval.
  void start();
  // Stops the loop and waits until it has ended, so the pool can close afterwards. A batch in
  // flight is cancelled (its connection is dropped; the statement, already sent with its
  // Sync, still commits or rolls back as a whole on the server): a sweep stuck behind a lock
  // never holds up the shutdown. Idempotent.
  boost::asio::awaitable<void> stop();

  // One pass over every kind, batch after batch until a batch comes back short. Returns the
  // number of items expired. Throws what the store throws.
  boost::asio::awaitable<int> sweep_once();

 private:
  boost::asio::awaitable<void> pass();  // one sweep_once(), its errors logged

  CommandStore& store_;
  domain::RandomSource& random_;
  NowFn now_;
  telemetry::Logger& log_;
  ExpirySweeperOptions options_;
  PeriodicTask task_;
  bool started_ = false;
};

}  // namespace userservice::services
