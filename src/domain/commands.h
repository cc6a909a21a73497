#pragma once
// Pure rules of the admin commands on entitlements, sanctions and limits (api.md §8):
// input checks against a clock reading, and the state conflicts (409) evaluated on the
// state effective at the moment of the command. The PostgreSQL adapter enforces the same
// conflict conditions under the account's row lock; these functions decide what a caller
// is told, and are tested without a database.
#include <optional>
#include <string>
#include <string_view>

#include "domain/account.h"
#include "domain/catalog.h"
#include "domain/time.h"

namespace userservice::domain {

// What the expiry sweeper writes as reason and actor on its `expire` records and events.
inline constexpr std::string_view kExpiryReasonCode = "expired";
inline constexpr std::string_view kExpiryActorType = "system";
inline constexpr std::string_view kExpiryActorId = "expiry-sweeper";

// Time bounds (api.md §8), each Error(invalid_request) naming `field`:
// a start may not lie after `now`; an end must lie strictly after `now`.
void require_not_future(TimePoint t, std::string_view field, TimePoint now);
void require_future(TimePoint t, std::string_view field, TimePoint now);

// The entitlement a grant installs: a catalog plan; starts_at defaults to `now` and may not
// lie in the future; ends_at is required exactly for plans that need an end, must lie in the
// future and after starts_at, and must be absent otherwise. Error(invalid_request) otherwise.
Entitlement grant_entitlement(std::string_view plan_code, std::optional<TimePoint> starts_at,
                              std::optional<TimePoint> ends_at, TimePoint now);

// Conflicts on the entitlement effective at the command's moment: nullopt when the command
// may proceed, otherwise the client-safe message of the 409.
// extend: only a paid entitlement with an end, and only to a later end.
std::optional<std::string> extend_conflict(const Entitlement& current, TimePoint new_end);
// revoke: not when the user is already on the free plan.
std::optional<std::string> revoke_conflict(const Entitlement& current);

// Whether applying, removing or expiring this sanction also writes the lifecycle events
// user.login_blocked / user.login_unblocked (api.md §10).
bool has_lifecycle_events(std::string_view sanction_code) noexcept;

}  // namespace userservice::domain
