#pragma once
// Where log lines (and the stdout span/metric exporters' JSON lines) go: a bounded queue in
// memory, written to the FILE by a thread of its own. Whoever logs — the event loop above
// all — never waits for the output: a stdout pipe whose reader stalls (a stuck log shipper)
// fills the queue, and then new lines are dropped and counted instead of blocking requests,
// timers and the sweeper. When the reader resumes, writing resumes.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace userservice::telemetry {

class LineWriter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kDefaultMaxQueuedBytes = 4 << 20;

  explicit LineWriter(std::FILE* out, std::size_t max_queued_bytes = kDefaultMaxQueuedBytes);
  // Writes what is queued, for at most a second, then stops (a stalled reader cannot hold up
  // the exit).
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Queues whole lines. False when they do not fit: they are dropped and counted.
  bool write(std::string_view lines);
  // Waits until everything queued before the call was written, at most until `deadline`.
  bool flush(Clock::time_point deadline);
  std::uint64_t dropped_lines() const;

 private:
  void run();
  bool write_out(const std::string& chunk);

  std::FILE* out_;
  int fd_;           // -1: a FILE without a descriptor (open_memstream): written with fwrite
  bool poll_first_;  // a pipe, socket or terminal: wait for room, write at most PIPE_BUF
  std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer: something to write, or stop
  std::condition_variable written_;  // flush(): the writer made progress
  std::string queued_;
  std::uint64_t queued_total_ = 0;   // bytes ever queued
  std::uint64_t written_total_ = 0;  // bytes written or abandoned
  std::uint64_t dropped_ = 0;
  bool stop_ = false;
  Clock::time_point stop_by_{};
  std::thread thread_;
};

}  // namespace userservice::telemetry
