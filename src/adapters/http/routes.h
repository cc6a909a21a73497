#pragma once
// THE route table: every route of both listeners, with its full literal path, in the order of
// docs/api.md, each bound to a named handler (handlers/handlers.h): routes.cpp for the internal
// listener, admin_routes.cpp for the admin listener. The path is also the route name in logs,
// metrics and spans. `RouteTable.*` (tests/unit/http_routes_test.cpp) checks that the paths
// there are exactly the ones docs/api.md lists.
#include <boost/asio/awaitable.hpp>

#include "adapters/http/message.h"

namespace userservice::services {
class AccountService;
class AdminCommandService;
class IdempotencyStore;
class ListingService;
}  // namespace userservice::services

namespace userservice::telemetry {
class Metrics;
}

namespace userservice::http {

class Router;

// `handler` bound to the object it calls. Not a coroutine itself: it returns the handler's
// coroutine, whose reference parameters (the object, the request) outlive it.
template <typename Object>
Handler with(boost::asio::awaitable<Response> (*handler)(Object&, Request&), Object& object) {
  return [handler, &object](Request& req) { return handler(object, req); };
}

// What the internal listener's handlers call.
struct InternalServices {
  services::AccountService& accounts;
  services::AdminCommandService& commands;
  services::ListingService& listing;
  services::IdempotencyStore& keys;  // the Idempotency-Key answers
};

// The internal listener: the business API under /api/v1/internal/.
void add_internal_routes(Router& router, const InternalServices& services);

// The admin listener (USERSERVICE_ADMIN_HTTP_ADDR): Prometheus metrics (admin_routes.cpp).
void add_admin_routes(Router& router, telemetry::Metrics& metrics);

}  // namespace userservice::http
