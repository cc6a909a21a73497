#pragma once
// The account and its current entitlement, sanctions and limits, as stored, and the
// effective view of them at a given moment (api.md §2, §4, §6).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/catalog.h"
#include "domain/time.h"

namespace userservice::domain {

struct Account {
  std::string user_id;
  std::string email;
  std::string user_name;
  std::string preferred_language;
  std::string time_zone;
  std::optional<std::string> declared_country;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> deleted_at;
};

struct Entitlement {
  std::string plan_code;
  bool is_paid = false;
  TimePoint starts_at;
  std::optional<TimePoint> ends_at;
};

struct ActiveSanction {
  std::string sanction_code;
  std::string reason_code;
  TimePoint applied_at;
  std::optional<TimePoint> expires_at;
};

struct ActiveLimit {
  std::string limit_code;
  std::int64_t value = 0;
  std::string reason_code;
  TimePoint applied_at;
  std::optional<TimePoint> expires_at;
};

// Everything the account view (api.md §4) shows, in stored form.
struct AccountState {
  Account account;
  Entitlement entitlement;
  std::vector<ActiveSanction> sanctions;
  std::vector<ActiveLimit> limits;
};

// Eligibility of api.md §6, derived from an effective AccountState.
struct Eligibility {
  std::string user_id;
  std::string plan_code;
  bool is_paid = false;
  Capabilities capabilities;
  std::vector<std::string> active_sanction_codes;  // sorted
  EffectiveLimits effective_limits;
};

}  // namespace userservice::domain
