#include <boost/json.hpp>

#include "adapters/http/handlers/handlers.h"
#include "adapters/http/router.h"
#include "services/account_service.h"

namespace userservice::http {

void register_auth_routes(Router& router, services::AccountService& accounts) {
  router.add(Method::get, "/api/v1/internal/users/{user_id}/exists",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               bool exists = co_await accounts.exists(req.ctx, req.param("user_id"));
               co_return json_response(200, exists ? R"({"exists":true})" : R"({"exists":false})");
             });
}

}  // namespace userservice::http
