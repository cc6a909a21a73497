#pragma once
// The narrow storage interface the application services depend on. The PostgreSQL
// adapter implements it; services never see SQL or libpq. Every mutation writes its
// event(s) into the outbox in the same transaction (api.md §10).
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/context.h"
#include "domain/account.h"
#include "domain/catalog.h"

namespace userservice::services {

using domain::TimePoint;

// Identity of an event the store writes to the outbox; the service mints it.
struct EventStamp {
  std::string event_id;
  std::string traceparent;  // W3C traceparent of the request's server span; empty: none
  TimePoint occurred_at;
};

// What the database knows about an email, for resolution (api.md §3).
struct EmailFacts {
  std::optional<std::string> blocked_reason_code;  // on the blocked list
  std::optional<std::string> user_id;              // an account has this email
  bool deleted = false;
  bool has_login_block = false;                     // a login_block row exists...
  std::optional<TimePoint> login_block_expires_at;  // ...ending here (nullopt: never)
};

struct NewAccount {
  std::string user_id;
  std::string email;
  std::string user_name;
  std::string preferred_language;
  std::string time_zone;
  TimePoint created_at;
  EventStamp event;  // user.created
};

struct EnsureOutcome {
  bool created = false;  // this call created the account
  EmailFacts facts;      // read after the attempt, in a fresh snapshot
};

struct ProfileSummary {
  std::string user_id;
  std::string user_name;
  std::optional<std::string> declared_country;
};

enum class UpdateStatus { not_found, policy_denied, unchanged, changed };

// A self-service write and the stored state right after it (same round trip).
struct UpdateResult {
  UpdateStatus status = UpdateStatus::not_found;
  std::optional<domain::AccountState> state;  // set unless not_found
};

struct SettingsChange {
  std::optional<std::string> preferred_language;
  std::optional<std::string> time_zone;
};

struct CountryResult {
  UpdateStatus status = UpdateStatus::not_found;
  std::optional<std::string> declared_country;
  TimePoint updated_at;
};

struct DeleteResult {
  bool found = false;
  TimePoint deleted_at;
};

struct BlockedEmail {
  std::string email;
  std::string reason_code;
  TimePoint blocked_at;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // True when a live (not soft-deleted) account has this id.
  virtual boost::asio::awaitable<bool> live_account_exists(const RequestContext& ctx,
                                                           std::string_view user_id) = 0;

  virtual boost::asio::awaitable<EmailFacts> email_facts(const RequestContext& ctx,
                                                         std::string_view email) = 0;

  // Creates the account, its free entitlement snapshot and its user.created event in one
  // transaction, unless the email is blocked or taken (or a minted value collided).
  virtual boost::asio::awaitable<EnsureOutcome> ensure_account(const RequestContext& ctx,
                                                               const NewAccount& account) = 0;

  // Stored state (not yet effective). Live accounts only unless include_deleted.
  virtual boost::asio::awaitable<std::optional<domain::AccountState>> account_by_id(
      const RequestContext& ctx, std::string_view user_id, bool include_deleted) = 0;
  virtual boost::asio::awaitable<std::optional<domain::AccountState>> account_by_email(
      const RequestContext& ctx, std::string_view email) = 0;  // deleted included
  virtual boost::asio::awaitable<std::optional<domain::AccountState>> account_by_user_name(
      const RequestContext& ctx,
      std::string_view user_name) = 0;  // case-insensitive, deleted included

  // Live accounts among `user_ids` (distinct, well-formed), in any order; one round trip.
  virtual boost::asio::awaitable<std::vector<domain::AccountState>> live_accounts(
      const RequestContext& ctx, std::span<const std::string> user_ids) = 0;
  virtual boost::asio::awaitable<std::vector<ProfileSummary>> live_profiles(
      const RequestContext& ctx, std::span<const std::string> user_ids) = 0;

  // Self-service writes: not_found (unknown/deleted), policy_denied (active
  // profile_update_block at event.occurred_at), unchanged or changed. A user name taken
  // by another account throws domain::Error(conflict).
  virtual boost::asio::awaitable<UpdateResult> update_user_name(const RequestContext& ctx,
                                                                std::string_view user_id,
                                                                std::string_view user_name,
                                                                const EventStamp& event) = 0;
  virtual boost::asio::awaitable<UpdateResult> update_settings(const RequestContext& ctx,
                                                               std::string_view user_id,
                                                               const SettingsChange& change,
                                                               const EventStamp& event) = 0;
  virtual boost::asio::awaitable<CountryResult> set_declared_country(
      const RequestContext& ctx, std::string_view user_id,
      const std::optional<std::string>& country, const EventStamp& event) = 0;

  // Soft delete; idempotent (a second call reports the first deletion, writes nothing).
  virtual boost::asio::awaitable<DeleteResult> soft_delete(const RequestContext& ctx,
                                                           std::string_view user_id,
                                                           std::string_view reason_code,
                                                           const domain::Actor& actor,
                                                           const EventStamp& event) = 0;

  // Blocked emails. block_email answers the stored row and whether this call created it.
  virtual boost::asio::awaitable<std::pair<BlockedEmail, bool>> block_email(
      const RequestContext& ctx, std::string_view email, std::string_view reason_code,
      const domain::Actor& actor, TimePoint now) = 0;
  virtual boost::asio::awaitable<std::optional<BlockedEmail>> blocked_email(
      const RequestContext& ctx, std::string_view email) = 0;
  virtual boost::asio::awaitable<bool> unblock_email(const RequestContext& ctx,
                                                     std::string_view email) = 0;
};

}  // namespace userservice::services
