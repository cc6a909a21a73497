#include "adapters/http/handlers/handlers.h"
#include "telemetry/metrics.h"

namespace userservice::http::handlers {

// The Prometheus text exposition of every metric; HEAD answers the headers only.
awaitable<Response> serve_metrics(telemetry::Metrics& metrics, Request& req) {
  Response res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (req.method != Method::head) res.body = metrics.serialize();
  co_return res;
}

}  // namespace userservice::http::handlers
