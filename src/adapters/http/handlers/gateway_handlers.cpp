#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "services/account_service.h"

namespace userservice::http {

namespace handlers {

awaitable<Response> account_view(AccountService& accounts, Request& req) {
  auto state = co_await accounts.account(req.ctx, req.param("user_id"));
  co_return json_response(200, account_view_json(state));
}

awaitable<Response> update_profile(AccountService& accounts, Request& req) {
  JsonBody body(req);
  std::string user_name = body.required_string("user_name");
  body.finish();
  auto state = co_await accounts.update_profile(req.ctx, req.param("user_id"), user_name);
  co_return json_response(200, account_view_json(state));
}

awaitable<Response> update_settings(AccountService& accounts, Request& req) {
  JsonBody body(req);
  services::SettingsChange change;
  change.preferred_language = body.optional_string("preferred_language");
  change.time_zone = body.optional_string("time_zone");
  body.finish();
  auto state = co_await accounts.update_settings(req.ctx, req.param("user_id"), std::move(change));
  co_return json_response(200, account_view_json(state));
}

awaitable<Response> set_declared_country(AccountService& accounts, Request& req) {
  JsonBody body(req);
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
}

}  // namespace handlers

}  // namespace userservice::http
