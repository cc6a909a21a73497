#include <charconv>

#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "domain/time.h"
#include "services/admin_command_service.h"

namespace userservice::http {

namespace {

using services::CommandMeta;

// reason_code + actor, present on every command body.
CommandMeta read_meta(ObjectReader& body) {
  CommandMeta meta;
  meta.reason_code = body.required_string("reason_code");
  meta.actor = read_actor(body);
  return meta;
}

// An optional RFC 3339 field; absent and null both mean "none".
std::optional<domain::TimePoint> optional_time(ObjectReader& body, std::string_view name) {
  Nullable<std::string> v = body.nullable_string(name);
  if (!v.value) return std::nullopt;
  return domain::require_rfc3339(*v.value, name);
}

domain::TimePoint required_time(ObjectReader& body, std::string_view name) {
  return domain::require_rfc3339(body.required_string(name), name);
}

// ?page_size=&page_token= — nothing else, each at most once, percent-decoded.
services::PageRequest read_page_request(std::string_view query) {
  services::PageRequest page;
  bool seen_size = false;
  bool seen_token = false;
  for (auto& [key, value] : query_pairs(query)) {
    if (key == "page_size") {
      if (seen_size) throw domain::invalid_request("page_size given more than once");
      seen_size = true;
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || value.size() > 9 || ec != std::errc() ||
          p != value.data() + value.size() || value[0] == '-' || value[0] == '+') {
        throw domain::invalid_request("page_size must be an integer from 1 to 200");
      }
      page.page_size = n;
    } else if (key == "page_token") {
      if (seen_token) throw domain::invalid_request("page_token given more than once");
      seen_token = true;
      page.page_token = std::move(value);
    } else {
      throw domain::invalid_request(key.size() <= 64 ? "unknown query parameter " + key
                                                     : "unknown query parameter");
    }
  }
  return page;
}

void write_actor(JsonWriter& w, const domain::Actor& actor) {
  w.key("actor");
  w.begin_object();
  w.field("type", actor.type);
  w.field("id", actor.id);
  w.end_object();
}

void write_info_tail(JsonWriter& w, const services::RecordInfo& info) {
  w.field("reason_code", info.reason_code);
  write_actor(w, info.actor);
  w.field("recorded_at", info.recorded_at);
}

void write_record(JsonWriter& w, const services::EntitlementRecord& r) {
  w.begin_object();
  w.field("kind", r.info.kind);
  w.field("plan_code", r.entitlement.plan_code);
  w.field("is_paid", r.entitlement.is_paid);
  w.field("starts_at", r.entitlement.starts_at);
  w.field("ends_at", r.entitlement.ends_at);
  w.field("source", r.source);
  write_info_tail(w, r.info);
  w.end_object();
}

void write_record(JsonWriter& w, const services::SanctionRecord& r) {
  w.begin_object();
  w.field("kind", r.info.kind);
  w.field("sanction_code", r.sanction_code);
  w.field("expires_at", r.expires_at);
  write_info_tail(w, r.info);
  w.end_object();
}

void write_record(JsonWriter& w, const services::LimitRecord& r) {
  w.begin_object();
  w.field("kind", r.info.kind);
  w.field("limit_code", r.limit_code);
  w.key("value");
  r.value ? w.integer(*r.value) : w.null();
  w.field("expires_at", r.expires_at);
  write_info_tail(w, r.info);
  w.end_object();
}

template <typename Record>
Response history_response(const services::HistoryPage<Record>& page) {
  JsonWriter w;
  w.begin_object();
  w.key("items");
  w.begin_array();
  for (const auto& r : page.items) write_record(w, r);
  w.end_array();
  w.field("next_page_token", page.next_page_token);
  w.end_object();
  return json_response(200, w.take());
}

}  // namespace

namespace handlers {

// Every command takes an Idempotency-Key (routes.cpp).

// ---- Entitlements ----
awaitable<Response> grant_entitlement(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  services::GrantRequest grant;
  grant.plan_code = body.required_string("plan_code");
  grant.starts_at = optional_time(body, "starts_at");
  grant.ends_at = optional_time(body, "ends_at");
  grant.source = body.required_string("source");
  grant.meta = read_meta(body);
  body.finish();
  auto s = co_await commands.grant_entitlement(req.ctx, req.param("user_id"), grant);
  co_return json_response(200, account_view_json(s));
}

awaitable<Response> extend_entitlement(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  domain::TimePoint ends_at = required_time(body, "ends_at");
  std::string source = body.required_string("source");
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s =
      co_await commands.extend_entitlement(req.ctx, req.param("user_id"), ends_at, source, meta);
  co_return json_response(200, account_view_json(s));
}

awaitable<Response> revoke_entitlement(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s = co_await commands.revoke_entitlement(req.ctx, req.param("user_id"), meta);
  co_return json_response(200, account_view_json(s));
}

// ---- Sanctions ----
awaitable<Response> apply_sanction(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  std::string code = body.required_string("sanction_code");
  auto expires_at = optional_time(body, "expires_at");
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s = co_await commands.apply_sanction(req.ctx, req.param("user_id"), code, expires_at, meta);
  co_return json_response(200, account_view_json(s));
}

awaitable<Response> remove_sanction(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  std::string code = body.required_string("sanction_code");
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s = co_await commands.remove_sanction(req.ctx, req.param("user_id"), code, meta);
  co_return json_response(200, account_view_json(s));
}

// ---- Limits ----
awaitable<Response> set_limit(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  std::string code = body.required_string("limit_code");
  std::int64_t value = body.required_int("value");
  auto expires_at = optional_time(body, "expires_at");
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s =
      co_await commands.set_limit(req.ctx, req.param("user_id"), code, value, expires_at, meta);
  co_return json_response(200, account_view_json(s));
}

awaitable<Response> remove_limit(AdminCommandService& commands, Request& req) {
  JsonBody body(req);
  std::string code = body.required_string("limit_code");
  CommandMeta meta = read_meta(body);
  body.finish();
  auto s = co_await commands.remove_limit(req.ctx, req.param("user_id"), code, meta);
  co_return json_response(200, account_view_json(s));
}

// ---- History ----
awaitable<Response> entitlement_history(AdminCommandService& commands, Request& req) {
  auto page = read_page_request(req.query);
  auto r = co_await commands.entitlement_history(req.ctx, req.param("user_id"), page);
  co_return history_response(r);
}

awaitable<Response> sanction_history(AdminCommandService& commands, Request& req) {
  auto page = read_page_request(req.query);
  auto r = co_await commands.sanction_history(req.ctx, req.param("user_id"), page);
  co_return history_response(r);
}

awaitable<Response> limit_history(AdminCommandService& commands, Request& req) {
  auto page = read_page_request(req.query);
  auto r = co_await commands.limit_history(req.ctx, req.param("user_id"), page);
  co_return history_response(r);
}

}  // namespace handlers

}  // namespace userservice::http
