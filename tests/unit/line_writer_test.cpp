// The logger's output queue (telemetry/line_writer.h): never blocks the writer of a line,
// drops and counts whole lines when the output does not keep up, resumes when it does, and
// never holds up destruction on a stalled pipe.
#include "telemetry/line_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

using userservice::telemetry::LineWriter;
using namespace std::chrono_literals;

namespace {

std::string line_of(int i, std::size_t size) {
  std::string s = std::to_string(i) + ":";
  s.resize(size - 1, 'x');
  return s + "\n";
}

std::string read_available(int fd) {
  std::string out;
  char buf[65536];
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  fcntl(fd, F_SETFL, flags);
  return out;
}

TEST(LineWriter, WritesEverythingInOrder) {
  std::FILE* f = std::tmpfile();
  {
    LineWriter w(f);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(w.write(line_of(i, 50)));
    ASSERT_TRUE(w.flush(std::chrono::steady_clock::now() + 5s));
    EXPECT_EQ(w.dropped_lines(), 0u);
  }
  std::rewind(f);
  std::string all;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) all.append(buf, n);
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += line_of(i, 50);
  EXPECT_EQ(all, expected);
  std::fclose(f);
}

TEST(LineWriter, AStalledPipeDropsWholeLinesWithoutBlockingAndResumes) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::FILE* out = fdopen(fds[1], "w");
  {
    LineWriter w(out, 16 * 1024);
    const auto t0 = std::chrono::steady_clock::now();
    int accepted = 0;
    for (int i = 0; i < 5000; ++i) accepted += w.write(line_of(i, 100));  // 500 KB > pipe + queue
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "a write waited for the pipe";
    EXPECT_LT(accepted, 5000);
    EXPECT_EQ(w.dropped_lines(), static_cast<std::uint64_t>(5000 - accepted));
    // The reader resumes: the queue drains, later lines are written again.
    std::string got;
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      got += read_available(fds[0]);
      if (w.flush(std::chrono::steady_clock::now() + 50ms)) break;
    }
    ASSERT_TRUE(w.write("resumed\n"));
    while (got.find("resumed\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
      got += read_available(fds[0]);
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_NE(got.find("resumed\n"), std::string::npos);
    // Only whole lines: every line has its full length.
    std::size_t lines = 0;
    for (std::size_t at = 0, nl; (nl = got.find('\n', at)) != std::string::npos; at = nl + 1) {
      const std::size_t len = nl - at + 1;
      if (got.compare(at, 8, "resumed\n") != 0) EXPECT_EQ(len, 100u);
      ++lines;
    }
    EXPECT_EQ(lines, static_cast<std::size_t>(accepted) + 1);
  }
  std::fclose(out);
  ::close(fds[0]);
}

TEST(LineWriter, DestructionIsBoundedWhenNobodyReads) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::FILE* out = fdopen(fds[1], "w");
  const auto t0 = std::chrono::steady_clock::now();
  {
    LineWriter w(out, 1 << 20);
    for (int i = 0; i < 5000; ++i) w.write(line_of(i, 100));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  std::fclose(out);
  ::close(fds[0]);
}

}  // namespace
