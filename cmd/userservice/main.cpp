// userservice: owns every player account. See docs/architecture.md.
#include <cstdio>

#include "app/runtime.h"
#include "config/config.h"

int main() {
  using namespace userservice;
  config::Config cfg;
  try {
    cfg = config::load();
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "userservice: configuration error: %s\n", e.what());
    return 2;
  }
  telemetry::Logger log(cfg.log_level);
  return app::Runtime(std::move(cfg), log).run();
}
