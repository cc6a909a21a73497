#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "adapters/http/router.h"
#include "services/account_service.h"

namespace userservice::http {

void register_gateway_routes(Router& router, services::AccountService& accounts) {
  router.add(Method::get, "/api/v1/internal/users/{user_id}/account",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto state = co_await accounts.account(req.ctx, req.param("user_id"));
               co_return json_response(200, account_view_json(state));
             });

  router.add(Method::patch, "/api/v1/internal/users/{user_id}/profile",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto doc = parse_body_object(req.body);
               ObjectReader body(doc.get_object());
               std::string user_name = body.required_string("user_name");
               body.finish();
               auto state = co_await accounts.update_profile(req.ctx, req.param("user_id"), user_name);
               co_return json_response(200, account_view_json(state));
             });

  router.add(Method::patch, "/api/v1/internal/users/{user_id}/settings",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto doc = parse_body_object(req.body);
               ObjectReader body(doc.get_object());
               services::SettingsChange change;
               change.preferred_language = body.optional_string("preferred_language");
               change.time_zone = body.optional_string("time_zone");
               body.finish();
               auto state = co_await accounts.update_settings(req.ctx, req.param("user_id"),
                                                              std::move(change));
               co_return json_response(200, account_view_json(state));
             });
}

void register_geo_routes(Router& router, services::AccountService& accounts) {
  router.add(Method::put, "/api/v1/internal/users/{user_id}/declared-country",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto doc = parse_body_object(req.body);
               ObjectReader body(doc.get_object());
               Nullable<std::string> country = body.nullable_string("declared_country");
               body.finish();
               if (!country.present) throw domain::invalid_request("declared_country is required");
               auto r = co_await accounts.set_declared_country(req.ctx, req.param("user_id"),
                                                               std::move(country.value));
               JsonWriter w;
               w.begin_object();
               w.field("user_id", req.param("user_id"));
               w.field("declared_country", r.declared_country);
               w.field("updated_at", r.updated_at);
               w.end_object();
               co_return json_response(200, w.take());
             });
}

}  // namespace userservice::http
