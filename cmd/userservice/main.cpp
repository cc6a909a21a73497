// userservice: owns every player account. See docs/architecture.md.
#include <cstdio>
#include <string_view>

#include "adapters/postgres/statements.h"
#include "app/runtime.h"
#include "config/config.h"

int main(int argc, char** argv) {
  using namespace userservice;
  // Hidden: bench/ builds its pgbench scripts from this output. Needs no configuration.
  if (argc == 2 && std::string_view(argv[1]) == "--print-statements") {
    return postgres::print_statements(stdout);
  }
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
