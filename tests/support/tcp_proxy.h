#pragma once
// A TCP forwarder on a free loopback port, for cutting one client off a server while others
// keep reaching it (a partition of one path). Forwards byte for byte on its own thread.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace userservice::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port);  // throws std::system_error
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Closes every forwarded connection; new ones are accepted and closed at once (the client
  // sees a reset or EOF), until restore().
  void cut();
  void restore();

 private:
  void run();

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<int, int>> pairs_;  // client fd, upstream fd
  std::thread thread_;
};

}  // namespace userservice::testing
