#include "telemetry/line_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace userservice::telemetry {

using namespace std::chrono_literals;

LineWriter::LineWriter(std::FILE* out, std::size_t max_queued_bytes)
    : out_(out), fd_(out ? ::fileno(out) : -1), max_queued_(max_queued_bytes) {
  struct stat st {};
  poll_first_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode);
  if (fd_ >= 0) std::fflush(out_);  // nothing buffered by stdio may come after our lines
  thread_ = std::thread([this] { run(); });
}

LineWriter::~LineWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    stop_by_ = Clock::now() + 1s;
  }
  wake_.notify_all();
  thread_.join();
}

bool LineWriter::write(std::string_view lines) {
  if (lines.empty()) return true;
  {
    std::lock_guard lock(mu_);
    if (queued_.size() + lines.size() > max_queued_) {
      dropped_ += std::max<std::uint64_t>(1, std::count(lines.begin(), lines.end(), '\n'));
      return false;
    }
    queued_.append(lines);
    queued_total_ += lines.size();
  }
  wake_.notify_one();
  return true;
}

bool LineWriter::flush(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const std::uint64_t target = queued_total_;
  return written_.wait_until(lock, deadline, [&] { return written_total_ >= target; });
}

std::uint64_t LineWriter::dropped_lines() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void LineWriter::run() {
  // The output may be a pipe whose reader went away: a write must fail with EPIPE, not
  // raise SIGPIPE and end the process.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  std::string chunk;
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !queued_.empty(); });
    if (queued_.empty()) break;  // stopping, nothing left
    chunk.clear();
    chunk.swap(queued_);  // the queue is free for new lines while this chunk is written
    lock.unlock();
    write_out(chunk);
    lock.lock();
    written_total_ += chunk.size();
    written_.notify_all();
  }
  written_total_ = queued_total_;
  written_.notify_all();
}

// Writes `chunk` whole, unless asked to stop and past the stop deadline (then the rest is
// abandoned) or the output fails for good.
bool LineWriter::write_out(const std::string& chunk) {
  if (fd_ < 0) {
    const bool ok = std::fwrite(chunk.data(), 1, chunk.size(), out_) == chunk.size();
    std::fflush(out_);
    return ok;
  }
  std::size_t done = 0;
  while (done < chunk.size()) {
    std::size_t n = chunk.size() - done;
    if (poll_first_) {
      // Room for at least PIPE_BUF bytes: a write of that much does not block.
      pollfd p{fd_, POLLOUT, 0};
      const int r = ::poll(&p, 1, 200);
      if (r < 0 && errno != EINTR) return false;
      if (r <= 0) {
        std::lock_guard lock(mu_);
        if (stop_ && Clock::now() >= stop_by_) return false;
        continue;
      }
      if (p.revents & (POLLERR | POLLNVAL)) return false;
      n = std::min<std::size_t>(n, PIPE_BUF);
    }
    const ssize_t w = ::write(fd_, chunk.data() + done, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;  // EPIPE: nobody reads any more; the lines are lost either way
    }
    done += static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace userservice::telemetry
