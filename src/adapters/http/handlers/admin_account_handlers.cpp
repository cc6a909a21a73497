#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/idempotency.h"
#include "adapters/http/handlers/views.h"
#include "adapters/http/router.h"
#include "services/account_service.h"

namespace userservice::http {

namespace {

std::string blocked_email_json(const services::BlockedEmail& b) {
  JsonWriter w;
  w.begin_object();
  w.field("email", b.email);
  w.field("reason_code", b.reason_code);
  w.field("blocked_at", b.blocked_at);
  w.end_object();
  return w.take();
}

}  // namespace

void register_admin_account_routes(Router& router, services::AccountService& accounts,
                                   services::IdempotencyStore& keys) {
  // The mutating routes accept an Idempotency-Key (docs/api.md).
  router.add(Method::post, "/api/v1/internal/admin/users/{user_id}/delete",
             idempotent([&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto doc = parse_body_object(req.body);
               ObjectReader body(doc.get_object());
               std::string reason = body.required_string("reason_code");
               domain::Actor actor = read_actor(body);
               body.finish();
               auto r = co_await accounts.soft_delete(req.ctx, req.param("user_id"), reason, actor);
               JsonWriter w;
               w.begin_object();
               w.field("user_id", req.param("user_id"));
               w.field("deleted_at", r.deleted_at);
               w.end_object();
               co_return json_response(200, w.take());
             }, keys));

  router.add(Method::put, "/api/v1/internal/admin/blocked-emails/{email}",
             idempotent([&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto doc = parse_body_object(req.body);
               ObjectReader body(doc.get_object());
               std::string reason = body.required_string("reason_code");
               domain::Actor actor = read_actor(body);
               body.finish();
               auto [blocked, created] =
                   co_await accounts.block_email(req.ctx, req.param("email"), reason, actor);
               co_return json_response(created ? 201 : 200, blocked_email_json(blocked));
             }, keys));

  router.add(Method::get, "/api/v1/internal/admin/blocked-emails/{email}",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto blocked = co_await accounts.blocked_email(req.ctx, req.param("email"));
               co_return json_response(200, blocked_email_json(blocked));
             });

  router.add(Method::delete_, "/api/v1/internal/admin/blocked-emails/{email}",
             idempotent([&accounts](Request& req) -> boost::asio::awaitable<Response> {
               co_await accounts.unblock_email(req.ctx, req.param("email"));
               Response res;
               res.status = 204;
               co_return res;
             }, keys));

  router.add(Method::get, "/api/v1/internal/admin/users/{user_id}",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto s = co_await accounts.lookup_by_id(req.ctx, req.param("user_id"));
               co_return json_response(200, account_view_json(s, true));
             });

  router.add(Method::get, "/api/v1/internal/admin/users/by-email/{email}",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto s = co_await accounts.lookup_by_email(req.ctx, req.param("email"));
               co_return json_response(200, account_view_json(s, true));
             });

  router.add(Method::get, "/api/v1/internal/admin/users/by-user-name/{user_name}",
             [&accounts](Request& req) -> boost::asio::awaitable<Response> {
               auto s = co_await accounts.lookup_by_user_name(req.ctx, req.param("user_name"));
               co_return json_response(200, account_view_json(s, true));
             });
}

}  // namespace userservice::http
