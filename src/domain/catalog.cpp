#include "domain/catalog.h"

#include <array>

#include "domain/error.h"

namespace userservice::domain {
namespace {

constexpr std::array<PlanInfo, 4> kPlans = {{
    {"free", false, false},
    {"paid_monthly", true, true},
    {"paid_yearly", true, true},
    {"paid_lifetime", true, false},
}};

constexpr std::array<SanctionInfo, 4> kSanctions = {{
    {"login_block", Capability::can_login},
    {"game_join_block", Capability::can_join_games},
    {"private_game_create_block", Capability::can_create_private_games},
    {"profile_update_block", Capability::can_update_profile},
}};

constexpr std::array<LimitInfo, 3> kLimits = {{
    {LimitId::max_owned_private_games, "max_owned_private_games", 1, 5},
    {LimitId::max_pending_public_applications, "max_pending_public_applications", 3, 10},
    {LimitId::max_active_game_memberships, "max_active_game_memberships", 3, 10},
}};

constexpr std::array<std::string_view, 3> kEntitlementSources = {"admin", "billing", "promo"};
constexpr std::array<std::string_view, 3> kActorTypes = {"admin", "system", "billing"};

constexpr std::size_t kMaxReasonCodeLength = 64;
constexpr std::size_t kMaxActorIdLength = 128;

// The catalogs are a handful of entries: a linear scan beats any index.
template <typename Info, std::size_t N>
constexpr const Info* find_by_code(const std::array<Info, N>& list, std::string_view code) {
  for (const Info& info : list) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

template <std::size_t N>
constexpr bool contains(const std::array<std::string_view, N>& list, std::string_view value) {
  for (std::string_view item : list) {
    if (item == value) return true;
  }
  return false;
}

static_assert(find_by_code(kPlans, kFreePlan) != nullptr);
static_assert(find_by_code(kSanctions, kLoginBlock) != nullptr);
static_assert(find_by_code(kSanctions, kProfileUpdateBlock) != nullptr);

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or -1 for
// malformed input (overlong forms, surrogates, > U+10FFFF, truncation).
constexpr std::int32_t next_code_point(std::string_view s, std::size_t& i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len;
  std::int32_t cp;
  std::int32_t min;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (s.size() - i < len) return -1;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  i += len;
  return cp;
}

}  // namespace

// ---- Plans ----

std::span<const PlanInfo> plans() noexcept { return kPlans; }

const PlanInfo* find_plan(std::string_view code) noexcept { return find_by_code(kPlans, code); }

const PlanInfo& require_plan(std::string_view code) {
  if (const PlanInfo* plan = find_plan(code)) return *plan;
  throw invalid_request("plan_code must be one of free, paid_monthly, paid_yearly, paid_lifetime");
}

// ---- Sanctions ----

std::span<const SanctionInfo> sanctions() noexcept { return kSanctions; }

const SanctionInfo* find_sanction(std::string_view code) noexcept {
  return find_by_code(kSanctions, code);
}

const SanctionInfo& require_sanction(std::string_view code) {
  if (const SanctionInfo* sanction = find_sanction(code)) return *sanction;
  throw invalid_request(
      "sanction_code must be one of login_block, game_join_block, private_game_create_block, "
      "profile_update_block");
}

bool Capabilities::allows(Capability capability) const noexcept {
  switch (capability) {
    case Capability::can_login:
      return can_login;
    case Capability::can_join_games:
      return can_join_games;
    case Capability::can_create_private_games:
      return can_create_private_games;
    case Capability::can_update_profile:
      return can_update_profile;
  }
  return false;
}

void Capabilities::apply_sanction(std::string_view sanction_code) noexcept {
  const SanctionInfo* sanction = find_sanction(sanction_code);
  if (sanction == nullptr) return;
  switch (sanction->disables) {
    case Capability::can_login:
      can_login = false;
      break;
    case Capability::can_join_games:
      can_join_games = false;
      break;
    case Capability::can_create_private_games:
      can_create_private_games = false;
      break;
    case Capability::can_update_profile:
      can_update_profile = false;
      break;
  }
}

// ---- Limits ----

std::span<const LimitInfo> limits() noexcept { return kLimits; }

const LimitInfo* find_limit(std::string_view code) noexcept { return find_by_code(kLimits, code); }

const LimitInfo& require_limit(std::string_view code) {
  if (const LimitInfo* limit = find_limit(code)) return *limit;
  throw invalid_request(
      "limit_code must be one of max_owned_private_games, max_pending_public_applications, "
      "max_active_game_memberships");
}

void require_valid_limit_value(std::int64_t value) {
  if (value < kMinLimitValue || value > kMaxLimitValue) {
    throw invalid_request("value must be an integer from 0 to 1000000");
  }
}

std::int64_t EffectiveLimits::get(LimitId id) const noexcept {
  switch (id) {
    case LimitId::max_owned_private_games:
      return max_owned_private_games;
    case LimitId::max_pending_public_applications:
      return max_pending_public_applications;
    case LimitId::max_active_game_memberships:
      return max_active_game_memberships;
  }
  return 0;
}

void EffectiveLimits::set(LimitId id, std::int64_t value) noexcept {
  switch (id) {
    case LimitId::max_owned_private_games:
      max_owned_private_games = value;
      break;
    case LimitId::max_pending_public_applications:
      max_pending_public_applications = value;
      break;
    case LimitId::max_active_game_memberships:
      max_active_game_memberships = value;
      break;
  }
}

bool EffectiveLimits::apply_override(std::string_view limit_code, std::int64_t value) noexcept {
  const LimitInfo* limit = find_limit(limit_code);
  if (limit == nullptr) return false;
  set(limit->id, value);
  return true;
}

EffectiveLimits default_limits(bool is_paid) noexcept {
  EffectiveLimits result{};
  for (const LimitInfo& limit : kLimits) {
    result.set(limit.id, is_paid ? limit.paid_default : limit.free_default);
  }
  return result;
}

// ---- Common command fields ----

bool is_valid_entitlement_source(std::string_view source) noexcept {
  return contains(kEntitlementSources, source);
}

void require_valid_entitlement_source(std::string_view source) {
  if (!is_valid_entitlement_source(source)) {
    throw invalid_request("source must be one of admin, billing, promo");
  }
}

bool is_valid_reason_code(std::string_view code) noexcept {
  if (code.empty() || code.size() > kMaxReasonCodeLength) return false;
  if (code.front() < 'a' || code.front() > 'z') return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

void require_valid_reason_code(std::string_view code) {
  if (!is_valid_reason_code(code)) {
    throw invalid_request(
        "reason_code must be 1-64 characters of snake_case ([a-z][a-z0-9_]*, e.g. "
        "\"chargeback\")");
  }
}

bool is_valid_actor_type(std::string_view type) noexcept { return contains(kActorTypes, type); }

bool is_valid_actor_id(std::string_view id) noexcept {
  std::size_t code_points = 0;
  for (std::size_t i = 0; i < id.size();) {
    const std::int32_t cp = next_code_point(id, i);
    if (cp < 0) return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;  // C0, DEL, C1
    if (++code_points > kMaxActorIdLength) return false;
  }
  return code_points > 0;
}

void require_valid_actor(const Actor& actor) {
  if (!is_valid_actor_type(actor.type)) {
    throw invalid_request("actor.type must be one of admin, system, billing");
  }
  if (!is_valid_actor_id(actor.id)) {
    throw invalid_request("actor.id must be 1-128 characters without control characters");
  }
}

}  // namespace userservice::domain
