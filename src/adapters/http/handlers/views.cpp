#include "adapters/http/handlers/views.h"

#include "domain/policy.h"

namespace userservice::http {

void write_effective_limits(JsonWriter& w, const domain::EffectiveLimits& limits) {
  w.begin_object();
  for (const auto& info : domain::limits()) w.field(info.code, limits.get(info.id));
  w.end_object();
}

void write_account(JsonWriter& w, const domain::Account& a) {
  w.begin_object();
  w.field("user_id", a.user_id);
  w.field("email", a.email);
  w.field("user_name", a.user_name);
  w.field("preferred_language", a.preferred_language);
  w.field("time_zone", a.time_zone);
  w.field("declared_country", a.declared_country);
  w.field("created_at", a.created_at);
  w.field("updated_at", a.updated_at);
  w.end_object();
}

void write_entitlement(JsonWriter& w, const domain::Entitlement& e) {
  w.begin_object();
  w.field("plan_code", e.plan_code);
  w.field("is_paid", e.is_paid);
  w.field("starts_at", e.starts_at);
  w.field("ends_at", e.ends_at);
  w.end_object();
}

std::string account_view_json(const domain::AccountState& s, bool with_deleted_at) {
  JsonWriter w;
  w.begin_object();
  w.key("account");
  write_account(w, s.account);

  w.key("entitlement");
  write_entitlement(w, s.entitlement);

  w.key("active_sanctions");
  w.begin_array();
  for (const auto& x : s.sanctions) {
    w.begin_object();
    w.field("sanction_code", x.sanction_code);
    w.field("reason_code", x.reason_code);
    w.field("applied_at", x.applied_at);
    w.field("expires_at", x.expires_at);
    w.end_object();
  }
  w.end_array();

  w.key("active_limits");
  w.begin_array();
  for (const auto& x : s.limits) {
    w.begin_object();
    w.field("limit_code", x.limit_code);
    w.field("value", x.value);
    w.field("reason_code", x.reason_code);
    w.field("applied_at", x.applied_at);
    w.field("expires_at", x.expires_at);
    w.end_object();
  }
  w.end_array();

  w.key("effective_limits");
  write_effective_limits(w, domain::effective_limits(s));
  if (with_deleted_at) w.field("deleted_at", s.account.deleted_at);
  w.end_object();
  return w.take();
}

void write_eligibility(JsonWriter& w, const domain::Eligibility& e) {
  w.begin_object();
  w.field("user_id", e.user_id);
  w.field("plan_code", e.plan_code);
  w.field("is_paid", e.is_paid);
  w.field("can_login", e.capabilities.can_login);
  w.field("can_join_games", e.capabilities.can_join_games);
  w.field("can_create_private_games", e.capabilities.can_create_private_games);
  w.field("can_update_profile", e.capabilities.can_update_profile);
  w.key("active_sanction_codes");
  w.begin_array();
  for (const auto& c : e.active_sanction_codes) w.string(c);
  w.end_array();
  w.key("effective_limits");
  write_effective_limits(w, e.effective_limits);
  w.end_object();
}

}  // namespace userservice::http
