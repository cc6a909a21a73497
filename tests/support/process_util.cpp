#include "support/process_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace userservice::testing::detail {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Everything the child does between fork and exec must be async-signal-safe (the test binary
// may have threads), so all strings and arrays are prepared before fork.
struct PreparedExec {
  std::string path;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  bool inherit_env = true;
};

void close_fds_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(lowest), ~0U, 0U) == 0) return;
#endif
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
  for (int fd = lowest; fd < max_fd; ++fd) close(fd);
}

// Moves `fd` to 3 or above: if the test process closed one of 0-2, a new fd could land there
// and be overwritten by the child's own dup2 onto 0-2.
int lift_fd(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int lifted = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return lifted;
}

int open_output(const std::string& path) {
  return lift_fd(open(path.empty() ? "/dev/null" : path.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}

}  // namespace

std::string make_temp_dir(std::string_view prefix) {
  std::string tmpl = "/tmp/";
  tmpl += prefix;
  tmpl += "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp " + tmpl);
  return tmpl;
}

void remove_tree(const std::string& path) noexcept {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string find_executable(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    if (access(path.c_str(), X_OK) != 0) throw std::runtime_error("not executable: " + path);
    return path;
  }
  const char* path_env = std::getenv("PATH");
  std::string dirs =
      path_env != nullptr && *path_env != '\0' ? path_env : "/usr/local/bin:/usr/bin:/bin";
  // Tools such as runuser live in sbin, which a non-login PATH may lack.
  dirs += ":/usr/local/sbin:/usr/sbin:/sbin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + std::string(name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("executable not found in PATH: " + std::string(name));
}

pid_t spawn(const SpawnOptions& options) {
  if (options.argv.empty()) throw std::invalid_argument("spawn: empty argv");
  PreparedExec prep;
  prep.path = find_executable(options.argv[0]);
  prep.argv_storage = options.argv;
  for (auto& a : prep.argv_storage) prep.argv.push_back(a.data());
  prep.argv.push_back(nullptr);
  if (options.env) {
    prep.inherit_env = false;
    prep.env_storage = *options.env;
    for (auto& e : prep.env_storage) prep.envp.push_back(e.data());
    prep.envp.push_back(nullptr);
  }

  int out_fd = options.stdout_fd >= 0 ? fcntl(options.stdout_fd, F_DUPFD_CLOEXEC, 3)
                                      : open_output(options.stdout_path);
  if (out_fd < 0) throw_errno("open " + options.stdout_path);
  int err_fd = options.stderr_path.empty() ? -1 : open_output(options.stderr_path);
  if (!options.stderr_path.empty() && err_fd < 0) {
    int saved = errno;
    close(out_fd);
    errno = saved;
    throw_errno("open " + options.stderr_path);
  }
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    close(out_fd);
    if (err_fd >= 0) close(err_fd);
    throw_errno("pipe2");
  }
  status_pipe[0] = lift_fd(status_pipe[0]);
  status_pipe[1] = lift_fd(status_pipe[1]);
  if (status_pipe[0] < 0 || status_pipe[1] < 0) {
    close(out_fd);
    if (err_fd >= 0) close(err_fd);
    if (status_pipe[0] >= 0) close(status_pipe[0]);
    if (status_pipe[1] >= 0) close(status_pipe[1]);
    throw_errno("fcntl F_DUPFD_CLOEXEC");
  }

  const pid_t parent = getpid();
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const int death_signal = options.death_signal;
  const int stdin_fd = options.stdin_fd;  // CleanupWatchdog lifts it above 2
  const bool new_session = options.new_session;
  char** envp = prep.inherit_env ? environ : prep.envp.data();

  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(out_fd);
    if (err_fd >= 0) close(err_fd);
    close(status_pipe[0]);
    close(status_pipe[1]);
    errno = saved;
    throw_errno("fork");
  }
  if (pid == 0) {
    auto fail = [&](int stage) {
      int payload[2] = {stage, errno};
      [[maybe_unused]] auto n = write(status_pipe[1], payload, sizeof payload);
      _exit(127);
    };
    // Undo what the test process may have changed: ignored SIGPIPE and blocked signals would be
    // inherited across exec and silently change how the server behaves.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    if (death_signal != 0) {
      // Dies with the test binary even when that is SIGKILLed (ctest timeout).
      if (prctl(PR_SET_PDEATHSIG, death_signal) != 0) fail(1);
      if (getppid() != parent) _exit(127);
    }
    if (new_session && setsid() < 0) fail(1);
    int in_fd = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (in_fd < 0 || dup2(in_fd, 0) < 0) fail(2);
    if (dup2(out_fd, 1) < 0) fail(2);
    if (dup2(err_fd >= 0 ? err_fd : out_fd, 2) < 0) fail(2);
    if (cwd != nullptr && chdir(cwd) != 0) fail(3);
    // Keep sockets and files of the test process (client connections, other servers' fds) out
    // of the child, or a peer close would never be seen. The status pipe is close-on-exec.
    int keep = status_pipe[1];
    for (int fd = 3; fd < keep; ++fd) close(fd);
    close_fds_from(keep + 1);
    execve(prep.path.c_str(), prep.argv.data(), envp);
    fail(4);
  }

  close(status_pipe[1]);
  close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int payload[2] = {0, 0};
  ssize_t n;
  do {
    n = read(status_pipe[0], payload, sizeof payload);
  } while (n < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (n > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    static const char* const kStages[] = {"?", "prctl/setsid", "redirect", "chdir", "execve"};
    const int stage = payload[0] >= 1 && payload[0] <= 4 ? payload[0] : 0;
    errno = payload[1];
    throw_errno(std::string("spawn ") + prep.path + " (" + kStages[stage] + ")");
  }
  return pid;
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::optional<int> try_reap(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) return decode_wait_status(status);
  if (r < 0 && errno == ECHILD) return -1;  // already reaped or not ours: treat as gone
  return std::nullopt;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(1);
  for (;;) {
    if (auto code = try_reap(pid)) return code;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(20));
  }
}

int terminate(pid_t pid, int sig, std::chrono::milliseconds grace) noexcept {
  if (pid <= 0) return -1;
  if (auto code = try_reap(pid)) return *code;
  kill(pid, sig);
  if (auto code = wait_exit(pid, grace)) return *code;
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return decode_wait_status(status);
}

int run(const SpawnOptions& options, std::chrono::milliseconds timeout) {
  pid_t pid = spawn(options);
  if (auto code = wait_exit(pid, timeout)) return *code;
  terminate(pid, SIGKILL, std::chrono::milliseconds(0));
  throw std::runtime_error("timed out after " + std::to_string(timeout.count()) +
                           " ms: " + options.argv[0]);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_lines(const std::string& text, std::size_t max_lines) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  std::size_t lines = 0;
  while (pos > 0) {
    if (text[pos - 1] == '\n' && ++lines == max_lines) break;
    --pos;
  }
  return text.substr(pos);
}

CleanupWatchdog::CleanupWatchdog(const std::string& dir, const std::string& before_remove) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  fds[0] = lift_fd(fds[0]);
  fds[1] = lift_fd(fds[1]);
  if (fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    throw_errno("fcntl F_DUPFD_CLOEXEC");
  }
  // `read` returns only at EOF: we never write, so EOF means every copy of the write end is
  // closed, i.e. this process has exited. The read end is dup'ed to the child's stdin.
  SpawnOptions opts;
  opts.argv = {"/bin/sh", "-c", "read -r _\n" + before_remove + "\nrm -rf -- \"$1\"\n",
               "userservice-test-watchdog", dir};
  opts.stdin_fd = fds[0];
  opts.cwd = "/";
  opts.new_session = true;  // Ctrl-C on the test must not kill the cleaner too
  try {
    pid_ = spawn(opts);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[0]);
  pipe_write_ = fds[1];
}

CleanupWatchdog& CleanupWatchdog::operator=(CleanupWatchdog&& other) noexcept {
  if (this != &other) {
    disarm();
    pid_ = std::exchange(other.pid_, 0);
    pipe_write_ = std::exchange(other.pipe_write_, -1);
  }
  return *this;
}

void CleanupWatchdog::disarm() noexcept {
  // Kill before closing the pipe, or the watchdog would see EOF and start cleaning.
  if (pid_ > 0) terminate(pid_, SIGKILL, std::chrono::milliseconds(0));
  pid_ = 0;
  if (pipe_write_ >= 0) close(pipe_write_);
  pipe_write_ = -1;
}

bool can_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

}  // namespace userservice::testing::detail
