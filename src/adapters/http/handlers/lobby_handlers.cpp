#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "adapters/http/router.h"
#include "services/account_service.h"

namespace userservice::http {

namespace {

std::vector<std::string> read_user_ids(const Request& req) {
  auto doc = parse_body_object(req.body);
  ObjectReader body(doc.get_object());
  auto ids = body.required_string_array("user_ids");
  body.finish();
  return ids;
}

void write_not_found(JsonWriter& w, const std::vector<std::string>& ids) {
  w.key("not_found");
  w.begin_array();
  for (const auto& id : ids) w.string(id);
  w.end_array();
}

}  // namespace

void register_lobby_routes(Router& router, services::AccountService& accounts) {
  router.add(Method::get, "/api/v1/internal/users/{user_id}/eligibility",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto e = co_await accounts.eligibility(req.ctx, req.param("user_id"));
               JsonWriter w;
               write_eligibility(w, e);
               co_return json_response(200, w.take());
             });

  router.add(Method::post, "/api/v1/internal/users/eligibility:batch",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto ids = read_user_ids(req);
               auto r = co_await accounts.eligibility_batch(req.ctx, ids);
               JsonWriter w;
               w.begin_object();
               w.key("items");
               w.begin_array();
               for (const auto& e : r.items) write_eligibility(w, e);
               w.end_array();
               write_not_found(w, r.not_found);
               w.end_object();
               co_return json_response(200, w.take());
             });

  router.add(Method::post, "/api/v1/internal/users/profiles:batch",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto ids = read_user_ids(req);
               auto r = co_await accounts.profiles_batch(req.ctx, ids);
               JsonWriter w;
               w.begin_object();
               w.key("items");
               w.begin_array();
               for (const auto& p : r.items) {
                 w.begin_object();
                 w.field("user_id", p.user_id);
                 w.field("user_name", p.user_name);
                 w.field("declared_country", p.declared_country);
                 w.end_object();
               }
               w.end_array();
               write_not_found(w, r.not_found);
               w.end_object();
               co_return json_response(200, w.take());
             });
}

}  // namespace userservice::http
