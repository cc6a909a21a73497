#include "domain/commands.h"

#include "domain/error.h"

namespace userservice::domain {

void require_not_future(TimePoint t, std::string_view field, TimePoint now) {
  if (t > now) throw invalid_request(std::string(field) + " may not lie in the future");
}

void require_future(TimePoint t, std::string_view field, TimePoint now) {
  if (t <= now) throw invalid_request(std::string(field) + " must lie in the future");
}

Entitlement grant_entitlement(std::string_view plan_code, std::optional<TimePoint> starts_at,
                              std::optional<TimePoint> ends_at, TimePoint now) {
  const PlanInfo& plan = require_plan(plan_code);
  const TimePoint start = starts_at.value_or(now);
  require_not_future(start, "starts_at", now);
  if (plan.requires_end) {
    if (!ends_at) throw invalid_request("ends_at is required for plan " + std::string(plan.code));
    require_future(*ends_at, "ends_at", now);
    // Implied by the two bounds above; kept so the rule reads as api.md states it.
    if (*ends_at <= start) throw invalid_request("ends_at must be after starts_at");
  } else if (ends_at) {
    throw invalid_request("ends_at is not allowed for plan " + std::string(plan.code));
  }
  return Entitlement{std::string(plan.code), plan.is_paid, start,
                     plan.requires_end ? ends_at : std::nullopt};
}

std::optional<std::string> extend_conflict(const Entitlement& current, TimePoint new_end) {
  if (!current.is_paid) {
    return "only a paid entitlement can be extended (current plan: " + current.plan_code + ")";
  }
  if (!current.ends_at) {
    return "entitlement " + current.plan_code + " has no end to extend";
  }
  if (new_end <= *current.ends_at) {
    return "ends_at must be after the current end " + format_rfc3339_millis(*current.ends_at);
  }
  return std::nullopt;
}

std::optional<std::string> revoke_conflict(const Entitlement& current) {
  if (current.plan_code == kFreePlan) return "entitlement is already free";
  return std::nullopt;
}

bool has_lifecycle_events(std::string_view sanction_code) noexcept {
  return sanction_code == kLoginBlock;
}

}  // namespace userservice::domain
