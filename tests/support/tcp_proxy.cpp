#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace userservice::testing {

namespace {

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::pipe(wake_) != 0) {
    throw std::system_error(errno, std::generic_category(), "proxy listen");
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  [[maybe_unused]] auto w = ::write(wake_[1], "x", 1);
  thread_.join();
  for (auto [c, u] : pairs_) {
    ::close(c);
    ::close(u);
  }
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpProxy::cut() {
  cut_ = true;
  [[maybe_unused]] auto w = ::write(wake_[1], "x", 1);
}

void TcpProxy::restore() { cut_ = false; }

void TcpProxy::run() {
  char buf[65536];
  while (!stop_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    std::vector<std::pair<int, int>> pairs;
    {
      std::lock_guard lock(mu_);
      if (cut_) {
        for (auto [c, u] : pairs_) {
          ::close(c);
          ::close(u);
        }
        pairs_.clear();
      }
      pairs = pairs_;
    }
    for (auto [c, u] : pairs) {
      fds.push_back({c, POLLIN, 0});
      fds.push_back({u, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    if (fds[1].revents) {
      char drain[64];
      [[maybe_unused]] auto r = ::read(wake_[0], drain, sizeof drain);
    }
    if (fds[0].revents & POLLIN) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        int u = cut_ ? -1 : connect_loopback(upstream_port_);
        if (u < 0) {
          ::close(c);
        } else {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          std::lock_guard lock(mu_);
          pairs_.emplace_back(c, u);
        }
      }
    }
    std::vector<std::size_t> dead;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto [c, u] = pairs[i];
      bool ok = true;
      for (int k = 0; k < 2 && ok; ++k) {
        const pollfd& p = fds[2 + 2 * i + static_cast<std::size_t>(k)];
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(p.fd, buf, sizeof buf, 0);
        ok = n > 0 && write_all(k == 0 ? u : c, buf, static_cast<std::size_t>(n));
      }
      if (!ok) dead.push_back(i);
    }
    if (!dead.empty()) {
      std::lock_guard lock(mu_);
      for (std::size_t i : dead) {
        const auto [c, u] = pairs[i];
        ::close(c);
        ::close(u);
        std::erase(pairs_, pairs[i]);
      }
    }
  }
}

}  // namespace userservice::testing
