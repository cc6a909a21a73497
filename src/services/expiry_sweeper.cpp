#include "services/expiry_sweeper.h"

#include "telemetry/metrics.h"

#include <array>

#include "domain/error.h"
#include "domain/ids.h"
#include "telemetry/log.h"

namespace userservice::services {

namespace asio = boost::asio;

namespace {

std::string_view kind_name(ExpiryKind kind) {
  switch (kind) {
    case ExpiryKind::entitlements:
      return "entitlements";
    case ExpiryKind::sanctions:
      return "sanctions";
    case ExpiryKind::limits:
      return "limits";
  }
  return "unknown";
}

}  // namespace

ExpirySweeper::ExpirySweeper(asio::any_io_executor ex, CommandStore& store,
                             domain::RandomSource& random, NowFn now, telemetry::Logger& log,
                             ExpirySweeperOptions options)
    : store_(store),
      random_(random),
      now_(std::move(now)),
      log_(log),
      options_(options),
      task_(ex, options_.interval, [this] { return pass(); }) {
  if (options_.batch_size < 1) options_.batch_size = 1;
}

void ExpirySweeper::start() {
  if (started_ || task_.stopping()) return;
  started_ = true;
  log_.info(
      "expiry sweeper started",
      {{"interval_ms",
        static_cast<std::int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.interval).count())},
       {"batch_size", options_.batch_size}});
  task_.start();
}

asio::awaitable<void> ExpirySweeper::stop() {
  const bool was_stopping = task_.stopping();
  co_await task_.stop();
  if (started_ && !was_stopping) log_.info("expiry sweeper stopped");
}

asio::awaitable<void> ExpirySweeper::pass() {
  const auto started = std::chrono::steady_clock::now();
  const auto finished = [&](bool ok) {
    if (options_.metrics == nullptr) return;
    options_.metrics->sweep_finished(
        ok, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  };
  try {
    co_await sweep_once();
    finished(true);
  } catch (const domain::Error& e) {
    if (task_.stopping()) co_return;
    finished(false);
    // Typically the database being unreachable or restarting: the next tick retries.
    log_.warn(
        "expiry sweep failed",
        {{"code", domain::to_string(e.code())}, {"message", e.message()}, {"detail", e.detail()}});
  } catch (const std::exception& e) {
    if (task_.stopping()) co_return;  // the batch in flight was cancelled by stop()
    finished(false);
    log_.error("expiry sweep failed", {{"error", e.what()}});
  }
}

asio::awaitable<int> ExpirySweeper::sweep_once() {
  constexpr std::array kKinds = {ExpiryKind::entitlements, ExpiryKind::sanctions,
                                 ExpiryKind::limits};
  int total = 0;
  for (ExpiryKind kind : kKinds) {
    for (;;) {
      if (task_.stopping()) co_return total;
      const domain::TimePoint now = std::chrono::floor<std::chrono::microseconds>(now_());
      // Two ids per item: a sanction may need a lifecycle event besides its domain event.
      std::vector<std::string> ids;
      ids.reserve(2 * static_cast<std::size_t>(options_.batch_size));
      for (int i = 0; i < 2 * options_.batch_size; ++i) {
        ids.push_back(domain::mint_event_id(now, random_));
      }
      RequestContext ctx;
      ctx.deadline = Clock::now() + options_.batch_timeout;
      const int n = co_await store_.expire_due(ctx, kind, now, options_.batch_size, ids);
      total += n;
      if (n > 0) log_.info("expired", {{"kind", kind_name(kind)}, {"count", n}});
      if (options_.metrics != nullptr) options_.metrics->items_expired(kind_name(kind), n);
      // A short batch means nothing more is due now (or the rest is held by someone else
      // and is left for the next tick).
      if (n < options_.batch_size) break;
    }
  }
  if (options_.keys != nullptr) {
    for (int purged = 0;;) {
      if (task_.stopping()) break;
      RequestContext ctx;
      ctx.deadline = Clock::now() + options_.batch_timeout;
      const int n = co_await options_.keys->purge_expired(ctx, options_.key_batch_size);
      purged += n;
      if (n < options_.key_batch_size) {
        if (purged > 0) log_.info("purged idempotency keys", {{"count", purged}});
        break;
      }
    }
  }
  co_return total;
}

}  // namespace userservice::services
