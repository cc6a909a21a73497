#pragma once
// A background coroutine run on an interval, on the process's io_context: the expiry sweeper
// and the replica probe. The run starts right away, then again `interval` after each run
// ends. stop() aborts the run in flight (terminal cancellation of the coroutine, so a
// statement waiting on a stuck database does not hold up the shutdown) and waits until it
// has ended. Event-loop thread only.
#include <chrono>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace userservice {

class PeriodicTask {
 public:
  using Body = std::function<boost::asio::awaitable<void>()>;

  PeriodicTask(boost::asio::any_io_executor ex, std::chrono::nanoseconds interval, Body body)
      : interval_(interval),
        body_(std::move(body)),
        timer_(ex),
        done_(ex, boost::asio::steady_timer::time_point::max()) {}
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // No-op when running, or once stop() was called.
  void start() {
    if (running_ || stopping_) return;
    running_ = true;
    boost::asio::co_spawn(
        timer_.get_executor(), loop(),
        boost::asio::bind_cancellation_slot(cancel_.slot(), [this](std::exception_ptr) {
          running_ = false;
          done_.cancel();
        }));
  }

  // Idempotent. The body sees stopping() true from here on.
  boost::asio::awaitable<void> stop() {
    stopping_ = true;
    timer_.cancel();
    if (!running_) co_return;
    cancel_.emit(boost::asio::cancellation_type::terminal);
    co_await done_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  bool stopping() const noexcept { return stopping_; }

 private:
  // The body handles its own errors; one that escapes (or the cancellation) ends the loop.
  boost::asio::awaitable<void> loop() {
    while (!stopping_) {
      co_await body_();
      if (stopping_) break;
      timer_.expires_after(interval_);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

  std::chrono::nanoseconds interval_;
  Body body_;
  boost::asio::steady_timer timer_;  // the interval; cancelled by stop()
  boost::asio::steady_timer done_;   // cancelled when the loop has ended: stop() waits on it
  boost::asio::cancellation_signal cancel_;  // bound to the loop: stop() aborts a run in flight
  bool running_ = false;
  bool stopping_ = false;
};

}  // namespace userservice
