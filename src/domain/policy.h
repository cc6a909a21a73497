#pragma once
// Effective state at read time (api.md §4, §9): anything whose end has passed is gone
// from what callers see, whether or not the expiry sweeper has run. Pure functions of
// the stored state and a clock reading, so they are tested without a database.
#include "domain/account.h"

namespace userservice::domain {

// A paid entitlement whose ends_at has passed reads as `free` from that moment on.
Entitlement effective_entitlement(const Entitlement& stored, TimePoint now);

// True while the item has no end or its end lies after `now`.
inline bool is_active(const std::optional<TimePoint>& ends, TimePoint now) {
  return !ends || *ends > now;
}

// Drops expired sanctions and limits, sorts them by code, and applies
// effective_entitlement. The result is what every read route shows.
AccountState effective_state(AccountState stored, TimePoint now);

// Limits: the plan's defaults with each active override applied.
EffectiveLimits effective_limits(const AccountState& effective);

// Capabilities switched off by the active sanctions.
Capabilities capabilities(const AccountState& effective);

Eligibility eligibility(const AccountState& effective);

// True when an active sanction with this code is present (effective state expected).
bool has_sanction(const AccountState& effective, std::string_view code);

}  // namespace userservice::domain
