#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "services/account_service.h"

namespace userservice::http {

namespace {

std::vector<std::string> read_user_ids(const Request& req) {
  JsonBody body(req);
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

namespace handlers {

awaitable<Response> eligibility(AccountService& accounts, Request& req) {
  auto e = co_await accounts.eligibility(req.ctx, req.param("user_id"));
  JsonWriter w;
  write_eligibility(w, e);
  co_return json_response(200, w.take());
}

awaitable<Response> eligibility_batch(AccountService& accounts, Request& req) {
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
}

awaitable<Response> profiles_batch(AccountService& accounts, Request& req) {
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
}

}  // namespace handlers

}  // namespace userservice::http
