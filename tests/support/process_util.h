#pragma once
// Internal helpers of the test support library: temp dirs, fork/exec, reaping, small file I/O.
// Not for use by tests directly; the public API is servers.h, service.h and http_client.h.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace userservice::testing::detail {

// mkdtemp("/tmp/<prefix>XXXXXX"); throws std::system_error.
std::string make_temp_dir(std::string_view prefix);
// rm -rf; never throws (tests must clean up even while unwinding).
void remove_tree(const std::string& path) noexcept;

// Absolute path of `name` (searched in PATH unless it contains '/'); throws std::runtime_error.
std::string find_executable(std::string_view name);

struct SpawnOptions {
  std::vector<std::string> argv;                // argv[0] is resolved with find_executable
  std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits ours
  std::string stdout_path;                      // appended to; "" means /dev/null
  int stdout_fd = -1;                           // >= 0: the child's stdout (stdout_path ignored)
  std::string stderr_path;                      // appended to; "" means same as stdout
  std::string cwd;                              // "" keeps ours
  int death_signal = 0;                         // sent to the child when we die (PR_SET_PDEATHSIG)
  int stdin_fd = -1;                            // becomes the child's stdin; -1 means /dev/null
  // setsid(): terminal signals (Ctrl-C on the test) do not reach the child.
  bool new_session = false;
};

// fork + execve. Throws std::system_error if the exec itself fails (errno comes back through a
// close-on-exec pipe), so a typo in a path is an exception, not a mysterious exit code 127.
pid_t spawn(const SpawnOptions& options);

// Exit code, or 128 + signal number.
int decode_wait_status(int status);
// Non-blocking reap; the code once `pid` has exited, nullopt while it runs.
std::optional<int> try_reap(pid_t pid);
// Polls until `pid` exits or the timeout passes.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);
// Sends `sig`, waits `grace`, then SIGKILL and reaps. Returns the exit code. Never throws.
int terminate(pid_t pid, int sig, std::chrono::milliseconds grace) noexcept;

// spawn + wait (SIGKILL after `timeout`); returns the exit code.
int run(const SpawnOptions& options, std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string read_file(const std::string& path);  // "" if unreadable
std::string tail_lines(const std::string& text, std::size_t max_lines);

// Removes `dir` (and runs `before_remove`, a sh snippet with the dir as $1) once this process is
// gone, however it ends: a detached `sh` blocks reading a pipe whose only write end we hold, and
// the kernel closes it even on SIGKILL. Destroying the watchdog disarms it.
class CleanupWatchdog {
 public:
  CleanupWatchdog() = default;
  CleanupWatchdog(const std::string& dir, const std::string& before_remove = "");
  ~CleanupWatchdog() { disarm(); }
  CleanupWatchdog(CleanupWatchdog&& other) noexcept { *this = std::move(other); }
  CleanupWatchdog& operator=(CleanupWatchdog&& other) noexcept;
  void disarm() noexcept;

 private:
  pid_t pid_ = 0;
  int pipe_write_ = -1;
};

// One blocking TCP connect to 127.0.0.1:port; true if it was accepted.
bool can_connect(int port);

// Ignores SIGPIPE in this process once, so a write to a server that just died is an error code
// rather than the death of the whole test binary. Children get the default back before exec.
void ignore_sigpipe();

}  // namespace userservice::testing::detail
