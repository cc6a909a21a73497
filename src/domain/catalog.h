#pragma once
// api.md §7 (plans, sanctions, limits) and the fields every admin command carries
// (§1, §8), as data in one place. Handlers validate codes here; services derive
// capabilities and effective limits from here.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace userservice::domain {

// ---- Plans ----------------------------------------------------------------------

struct PlanInfo {
  std::string_view code;
  bool is_paid;
  bool requires_end;  // ends_at required (monthly/yearly); otherwise it must be absent
};

inline constexpr std::string_view kFreePlan = "free";

std::span<const PlanInfo> plans() noexcept;
const PlanInfo* find_plan(std::string_view code) noexcept;  // nullptr when unknown
const PlanInfo& require_plan(std::string_view code);        // Error(invalid_request)

// ---- Sanctions --------------------------------------------------------------------

enum class Capability { can_login, can_join_games, can_create_private_games, can_update_profile };

struct SanctionInfo {
  std::string_view code;
  Capability disables;
};

inline constexpr std::string_view kLoginBlock = "login_block";
inline constexpr std::string_view kProfileUpdateBlock = "profile_update_block";

std::span<const SanctionInfo> sanctions() noexcept;
const SanctionInfo* find_sanction(std::string_view code) noexcept;
const SanctionInfo& require_sanction(std::string_view code);

// What a user may do; everything is allowed until an active sanction switches it off.
struct Capabilities {
  bool can_login = true;
  bool can_join_games = true;
  bool can_create_private_games = true;
  bool can_update_profile = true;

  bool allows(Capability capability) const noexcept;
  // Unknown codes (say, one retired from the catalog but still stored) change nothing.
  void apply_sanction(std::string_view sanction_code) noexcept;
};

// ---- Limits -----------------------------------------------------------------------

enum class LimitId {
  max_owned_private_games,
  max_pending_public_applications,
  max_active_game_memberships
};

struct LimitInfo {
  LimitId id;
  std::string_view code;
  std::int64_t free_default;
  std::int64_t paid_default;
};

inline constexpr std::int64_t kMinLimitValue = 0;
inline constexpr std::int64_t kMaxLimitValue = 1'000'000;

std::span<const LimitInfo> limits() noexcept;  // catalog order, as in api.md §7
const LimitInfo* find_limit(std::string_view code) noexcept;
const LimitInfo& require_limit(std::string_view code);
// 0..1,000,000, else Error(invalid_request).
void require_valid_limit_value(std::int64_t value);

struct EffectiveLimits {
  std::int64_t max_owned_private_games;
  std::int64_t max_pending_public_applications;
  std::int64_t max_active_game_memberships;

  std::int64_t get(LimitId id) const noexcept;
  void set(LimitId id, std::int64_t value) noexcept;
  // An active per-user override replaces the default; false for an unknown code.
  bool apply_override(std::string_view limit_code, std::int64_t value) noexcept;

  friend bool operator==(const EffectiveLimits&, const EffectiveLimits&) = default;
};

EffectiveLimits default_limits(bool is_paid) noexcept;

// ---- Common command fields ----------------------------------------------------------

// Entitlement `source` of grant/extend: admin | billing | promo.
bool is_valid_entitlement_source(std::string_view source) noexcept;
void require_valid_entitlement_source(std::string_view source);

// snake_case, 1-64 characters: ^[a-z][a-z0-9_]*$. A leading digit or underscore is
// refused so codes read as identifiers and stay usable as metric labels and enum names.
bool is_valid_reason_code(std::string_view code) noexcept;
void require_valid_reason_code(std::string_view code);

struct Actor {
  std::string type;  // admin | system | billing
  std::string id;    // 1-128 characters (Unicode code points), valid UTF-8, no controls
};

bool is_valid_actor_type(std::string_view type) noexcept;
// The id may be any printable UTF-8 (an email, a service name); C0/C1 controls and
// DEL are refused so it cannot forge lines in logs or break terminal output.
bool is_valid_actor_id(std::string_view id) noexcept;
void require_valid_actor(const Actor& actor);

}  // namespace userservice::domain
