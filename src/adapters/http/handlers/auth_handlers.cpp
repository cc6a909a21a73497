#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "common/json_writer.h"
#include "services/account_service.h"

namespace userservice::http {

namespace {

using services::Resolution;

void write_resolution_fields(JsonWriter& w, const Resolution& r) {
  if (r.kind == Resolution::Kind::blocked) {
    w.field("block_reason_code", r.block_reason_code);
    if (r.user_id) w.field("user_id", *r.user_id);
  } else if (r.user_id) {
    w.field("user_id", *r.user_id);
  }
}

std::string_view kind_name(Resolution::Kind k) {
  switch (k) {
    case Resolution::Kind::existing:
      return "existing";
    case Resolution::Kind::creatable:
      return "creatable";
    case Resolution::Kind::blocked:
      return "blocked";
  }
  return "blocked";
}

}  // namespace

namespace handlers {

awaitable<Response> resolve_by_email(AccountService& accounts, Request& req) {
  JsonBody body(req);
  std::string email = body.required_string("email");
  body.finish();
  Resolution r = co_await accounts.resolve_by_email(req.ctx, email);
  JsonWriter w;
  w.begin_object();
  w.field("kind", kind_name(r.kind));
  write_resolution_fields(w, r);
  w.end_object();
  co_return json_response(200, w.take());
}

// Takes an Idempotency-Key (routes.cpp): a retry then also replays "created" (201).
awaitable<Response> ensure_by_email(AccountService& accounts, Request& req) {
  JsonBody body(req);
  std::string email = body.required_string("email");
  services::RegistrationContext reg;
  if (auto ctx = body.optional_object("registration_context")) {
    reg.preferred_language = ctx->optional_string("preferred_language");
    reg.time_zone = ctx->optional_string("time_zone");
    ctx->finish();
  }
  body.finish();
  services::EnsureResult r = co_await accounts.ensure_by_email(req.ctx, email, reg);
  JsonWriter w;
  w.begin_object();
  if (r.created) {
    w.field("outcome", "created");
    w.field("user_id", *r.resolution.user_id);
  } else if (r.resolution.kind == Resolution::Kind::blocked) {
    w.field("outcome", "blocked");
    write_resolution_fields(w, r.resolution);
  } else {
    w.field("outcome", "existing");
    w.field("user_id", *r.resolution.user_id);
  }
  w.end_object();
  co_return json_response(r.created ? 201 : 200, w.take());
}

awaitable<Response> user_exists(AccountService& accounts, Request& req) {
  bool exists = co_await accounts.exists(req.ctx, req.param("user_id"));
  co_return json_response(200, exists ? R"({"exists":true})" : R"({"exists":false})");
}

}  // namespace handlers

}  // namespace userservice::http
