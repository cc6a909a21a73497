#pragma once
// Account reads and writes for every caller group (api.md §3–§6, §8). Validates input
// with the domain layer, mints ids and event stamps, asks the store, and turns the
// stored state into the effective state at the moment of the read.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/context.h"
#include "domain/account.h"
#include "domain/random.h"
#include "services/user_store.h"

namespace userservice::services {

using NowFn = std::function<domain::TimePoint()>;

struct Resolution {
  enum class Kind { existing, creatable, blocked };
  Kind kind = Kind::creatable;
  std::optional<std::string> user_id;  // existing; blocked by login_block
  std::string block_reason_code;       // blocked
};

// api.md §3: blocked list → soft-deleted account → active login_block at `now`.
Resolution resolve(const EmailFacts& facts, domain::TimePoint now);

struct EnsureResult {
  bool created = false;
  Resolution resolution;  // kind existing (or created: user_id set) or blocked
};

struct RegistrationContext {
  std::optional<std::string> preferred_language;
  std::optional<std::string> time_zone;
};

struct BatchResult {
  std::vector<domain::Eligibility> items;
  std::vector<std::string> not_found;
};

struct ProfilesResult {
  std::vector<ProfileSummary> items;
  std::vector<std::string> not_found;
};

class AccountService {
 public:
  AccountService(UserStore& store, domain::RandomSource& random, NowFn now)
      : store_(store), random_(random), now_(std::move(now)) {}

  // Auth / Session (§3).
  boost::asio::awaitable<bool> exists(const RequestContext& ctx, std::string_view user_id);
  boost::asio::awaitable<Resolution> resolve_by_email(const RequestContext& ctx,
                                                      std::string_view raw_email);
  boost::asio::awaitable<EnsureResult> ensure_by_email(const RequestContext& ctx,
                                                       std::string_view raw_email,
                                                       const RegistrationContext& registration);

  // Gateway (§4): effective state; 404 subject_not_found for unknown or deleted users.
  boost::asio::awaitable<domain::AccountState> account(const RequestContext& ctx,
                                                       std::string_view user_id);
  boost::asio::awaitable<domain::AccountState> update_profile(const RequestContext& ctx,
                                                              std::string_view user_id,
                                                              std::string_view user_name);
  boost::asio::awaitable<domain::AccountState> update_settings(const RequestContext& ctx,
                                                               std::string_view user_id,
                                                               SettingsChange change);

  // Geo (§5).
  boost::asio::awaitable<CountryResult> set_declared_country(const RequestContext& ctx,
                                                             std::string_view user_id,
                                                             std::optional<std::string> country);

  // Lobby (§6).
  boost::asio::awaitable<domain::Eligibility> eligibility(const RequestContext& ctx,
                                                          std::string_view user_id);
  boost::asio::awaitable<BatchResult> eligibility_batch(const RequestContext& ctx,
                                                        std::span<const std::string> user_ids);
  boost::asio::awaitable<ProfilesResult> profiles_batch(const RequestContext& ctx,
                                                        std::span<const std::string> user_ids);

  // Admin (§8). Lookups include soft-deleted accounts (account.deleted_at set).
  boost::asio::awaitable<domain::AccountState> lookup_by_id(const RequestContext& ctx,
                                                            std::string_view user_id);
  boost::asio::awaitable<domain::AccountState> lookup_by_email(const RequestContext& ctx,
                                                               std::string_view raw_email);
  boost::asio::awaitable<domain::AccountState> lookup_by_user_name(const RequestContext& ctx,
                                                                   std::string_view user_name);
  boost::asio::awaitable<DeleteResult> soft_delete(const RequestContext& ctx,
                                                   std::string_view user_id,
                                                   std::string_view reason_code,
                                                   const domain::Actor& actor);
  boost::asio::awaitable<std::pair<BlockedEmail, bool>> block_email(const RequestContext& ctx,
                                                                    std::string_view raw_email,
                                                                    std::string_view reason_code,
                                                                    const domain::Actor& actor);
  boost::asio::awaitable<BlockedEmail> blocked_email(const RequestContext& ctx,
                                                     std::string_view raw_email);
  boost::asio::awaitable<void> unblock_email(const RequestContext& ctx, std::string_view raw_email);

 private:
  EventStamp stamp(const RequestContext& ctx, domain::TimePoint now);
  // Checks 1..100 well-formed ids; returns them without duplicates, first occurrence first.
  static std::vector<std::string> distinct_ids(std::span<const std::string> user_ids);

  UserStore& store_;
  domain::RandomSource& random_;
  NowFn now_;
};

}  // namespace userservice::services
