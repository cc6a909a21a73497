// The PostgreSQL connection waits for libpq's socket with stream_descriptor::async_wait and
// skips its own readiness poll before the first wait after a send
// (adapters/postgres/connection.cpp). That relies on Asio's wait reporting readiness that
// already exists when it starts, even after the reactor consumed the edge for that data. This
// pins the behaviour of the Asio in use.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(AsioWait, ReportsReadinessThatArrivedBeforeTheWaitStarted) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  asio::io_context io{1};
  asio::posix::stream_descriptor d(io, sv[0]);

  // Data arrives while no wait is pending, and the reactor runs (consuming the edge of the
  // edge-triggered registration) before anyone waits: the data is still unread.
  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  asio::steady_timer t(io, 20ms);
  t.async_wait([](boost::system::error_code) {});
  io.run();
  io.restart();

  bool fired = false;
  boost::system::error_code result = asio::error::would_block;
  d.async_wait(asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code ec) {
    fired = true;
    result = ec;
  });
  io.run_for(2s);
  EXPECT_TRUE(fired) << "a wait started after the edge was consumed never completed";
  EXPECT_FALSE(result);

  d.release();
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
