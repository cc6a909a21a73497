#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
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

namespace handlers {

// Soft delete and the blocked-email PUT and DELETE take an Idempotency-Key (routes.cpp).
awaitable<Response> soft_delete(AccountService& accounts, Request& req) {
  JsonBody body(req);
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
}

awaitable<Response> block_email(AccountService& accounts, Request& req) {
  JsonBody body(req);
  std::string reason = body.required_string("reason_code");
  domain::Actor actor = read_actor(body);
  body.finish();
  auto [blocked, created] =
      co_await accounts.block_email(req.ctx, req.param("email"), reason, actor);
  co_return json_response(created ? 201 : 200, blocked_email_json(blocked));
}

awaitable<Response> blocked_email(AccountService& accounts, Request& req) {
  auto blocked = co_await accounts.blocked_email(req.ctx, req.param("email"));
  co_return json_response(200, blocked_email_json(blocked));
}

awaitable<Response> unblock_email(AccountService& accounts, Request& req) {
  co_await accounts.unblock_email(req.ctx, req.param("email"));
  Response res;
  res.status = 204;
  co_return res;
}

awaitable<Response> lookup_by_id(AccountService& accounts, Request& req) {
  auto s = co_await accounts.lookup_by_id(req.ctx, req.param("user_id"));
  co_return json_response(200, account_view_json(s, true));
}

awaitable<Response> lookup_by_email(AccountService& accounts, Request& req) {
  auto s = co_await accounts.lookup_by_email(req.ctx, req.param("email"));
  co_return json_response(200, account_view_json(s, true));
}

awaitable<Response> lookup_by_user_name(AccountService& accounts, Request& req) {
  auto s = co_await accounts.lookup_by_user_name(req.ctx, req.param("user_name"));
  co_return json_response(200, account_view_json(s, true));
}

}  // namespace handlers

}  // namespace userservice::http
