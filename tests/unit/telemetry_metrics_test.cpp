// Process metrics: the descriptor count must follow the process's real descriptors, by
// whichever method the kernel supports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "telemetry/metrics.h"

namespace {

using userservice::telemetry::Metrics;
namespace detail = userservice::telemetry::detail;

double scraped_open_fds(Metrics& m) {
  const std::string text = m.serialize();
  const std::string key = "\nprocess_open_fds ";
  const auto at = text.find(key);
  EXPECT_NE(at, std::string::npos) << text;
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + key.size()));
}

struct Pipes {
  std::vector<std::array<int, 2>> fds;
  explicit Pipes(int n) {
    for (int i = 0; i < n; ++i) {
      std::array<int, 2> p{};
      if (::pipe(p.data()) == 0) fds.push_back(p);
    }
  }
  ~Pipes() {
    for (auto& p : fds) {
      ::close(p[0]);
      ::close(p[1]);
    }
  }
};

TEST(ProcessMetrics, OpenFdsScanFollowsTheProcess) {
  const double before = detail::open_fds_by_scan();
  {
    Pipes pipes(20);
    ASSERT_EQ(pipes.fds.size(), 20u);
    EXPECT_EQ(detail::open_fds_by_scan(), before + 40);
  }
  EXPECT_EQ(detail::open_fds_by_scan(), before);
}

TEST(ProcessMetrics, OpenFdsStatAgreesWithTheScanWhereTheKernelSupportsIt) {
  const auto by_stat = detail::open_fds_by_stat();
  if (!by_stat) GTEST_SKIP() << "kernel older than 6.2: no descriptor count from stat()";
  EXPECT_EQ(*by_stat, detail::open_fds_by_scan());
  Pipes pipes(20);
  EXPECT_EQ(detail::open_fds_by_stat(), *by_stat + 40);
}

TEST(ProcessMetrics, ScrapeReportsTheCurrentCount) {
  Metrics m;
  const double before = scraped_open_fds(m);
  ASSERT_GT(before, 0);
  Pipes pipes(10);
  EXPECT_EQ(scraped_open_fds(m), before + 20);
}

}  // namespace
