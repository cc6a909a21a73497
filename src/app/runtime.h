#pragma once
// The process runtime: wires the components in the order of docs/design.md and runs them
// until SIGTERM/SIGINT. Each step fails fast with a message naming the step; no
// listener opens before every dependency check has passed.
#include <memory>

#include "config/config.h"
#include "telemetry/log.h"

namespace userservice::app {

class Runtime {
 public:
  Runtime(config::Config config, telemetry::Logger& log);
  ~Runtime();

  // Starts everything, serves until a shutdown signal, shuts down gracefully.
  // Returns the process exit code: 0 after a clean shutdown, 1 when startup failed.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace userservice::app
