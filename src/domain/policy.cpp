#include "domain/policy.h"

#include <algorithm>

namespace userservice::domain {

Entitlement effective_entitlement(const Entitlement& stored, TimePoint now) {
  if (is_active(stored.ends_at, now)) return stored;
  // Lapsed: free from the moment the paid period ended.
  return Entitlement{std::string(kFreePlan), false, *stored.ends_at, std::nullopt};
}

AccountState effective_state(AccountState s, TimePoint now) {
  s.entitlement = effective_entitlement(s.entitlement, now);
  std::erase_if(s.sanctions,
                [&](const ActiveSanction& x) { return !is_active(x.expires_at, now); });
  std::erase_if(s.limits, [&](const ActiveLimit& x) { return !is_active(x.expires_at, now); });
  std::sort(s.sanctions.begin(), s.sanctions.end(),
            [](const auto& a, const auto& b) { return a.sanction_code < b.sanction_code; });
  std::sort(s.limits.begin(), s.limits.end(),
            [](const auto& a, const auto& b) { return a.limit_code < b.limit_code; });
  return s;
}

EffectiveLimits effective_limits(const AccountState& s) {
  EffectiveLimits limits = default_limits(s.entitlement.is_paid);
  for (const auto& l : s.limits) limits.apply_override(l.limit_code, l.value);
  return limits;
}

Capabilities capabilities(const AccountState& s) {
  Capabilities caps;
  for (const auto& x : s.sanctions) caps.apply_sanction(x.sanction_code);
  return caps;
}

Eligibility eligibility(const AccountState& s) {
  Eligibility e;
  e.user_id = s.account.user_id;
  e.plan_code = s.entitlement.plan_code;
  e.is_paid = s.entitlement.is_paid;
  e.capabilities = capabilities(s);
  e.active_sanction_codes.reserve(s.sanctions.size());
  for (const auto& x : s.sanctions) e.active_sanction_codes.push_back(x.sanction_code);
  e.effective_limits = effective_limits(s);
  return e;
}

bool has_sanction(const AccountState& s, std::string_view code) {
  return std::any_of(s.sanctions.begin(), s.sanctions.end(),
                     [&](const ActiveSanction& x) { return x.sanction_code == code; });
}

}  // namespace userservice::domain
