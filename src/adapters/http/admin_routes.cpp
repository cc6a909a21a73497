// The admin listener's route table (routes.h); apart from routes.cpp so that the pure HTTP code
// (the fuzz build) does not need the metrics registry.
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/router.h"
#include "adapters/http/routes.h"

namespace userservice::http {

void add_admin_routes(Router& r, telemetry::Metrics& metrics) {
  using namespace handlers;  // NOLINT: the table reads better with bare handler names
  // clang-format off
  r.add(Method::get,     "/metrics", with(serve_metrics, metrics));
  r.add(Method::head,    "/metrics", with(serve_metrics, metrics));
  // clang-format on
}

}  // namespace userservice::http
