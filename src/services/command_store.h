#pragma once
// The narrow storage interface of the admin commands on entitlements, sanctions and limits,
// their history, and the expiry sweeper (api.md §8, §9). The PostgreSQL adapter implements
// it; services never see SQL.
//
// Every command runs in one transaction that first takes the account's row lock (so one
// user's commands, and the sweeper's work on that user, happen one after another), then
// expires whatever of the touched kind has lapsed at `now` (so a command never acts on, or
// silently overwrites, an item that has already ended: the history shows its `expire`
// first), then applies the command with its history record and event(s), and finally reads
// the stored account state.
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/context.h"
#include "domain/account.h"
#include "domain/catalog.h"
#include "services/user_store.h"

namespace userservice::services {

// reason_code and actor of a command (api.md §1), validated.
struct CommandMeta {
  std::string reason_code;
  domain::Actor actor;
};

// Events a command may write, minted by the service. `event.occurred_at` is the command's
// moment: rules, recorded_at, applied_at and the events all use it.
struct CommandEvents {
  EventStamp event;                // the domain event of the command
  std::string lifecycle_event_id;  // login_block only: user.login_blocked / _unblocked
  // For lapsed items of the touched kind that the command expires first: two per item
  // (a domain event, and a lifecycle event for login_block).
  std::vector<std::string> expiry_event_ids;
};

enum class CommandOutcome { not_found, conflict, applied };

struct CommandResult {
  CommandOutcome outcome = CommandOutcome::not_found;
  // Entitlement commands: the entitlement right before the command (lapsed ones already
  // expired), so that a conflict can be explained.
  std::optional<domain::Entitlement> prior_entitlement;
  // Stored (not yet effective) state right after the command; set unless not_found.
  std::optional<domain::AccountState> state;
};

// ---- History ----------------------------------------------------------------------------

struct RecordInfo {
  std::int64_t record_id = 0;
  std::string kind;  // grant|extend|revoke|expire, apply|remove|expire, set|remove|expire
  std::string reason_code;
  domain::Actor actor;
  domain::TimePoint recorded_at;
};

struct EntitlementRecord {
  RecordInfo info;
  domain::Entitlement entitlement;  // the entitlement this record installed
  std::optional<std::string> source;
};

struct SanctionRecord {
  RecordInfo info;
  std::string sanction_code;
  // apply: the expiry it set; expire: when it ended; remove: nullopt.
  std::optional<domain::TimePoint> expires_at;
};

struct LimitRecord {
  RecordInfo info;
  std::string limit_code;
  std::optional<std::int64_t> value;            // set only
  std::optional<domain::TimePoint> expires_at;  // as for sanctions
};

// Records with record_id < before, newest first, at most `limit`; nullopt when no account
// (live or soft-deleted) has this id.
template <typename Record>
using HistorySlice = std::optional<std::vector<Record>>;

// What the sweeper expires, one kind per call.
enum class ExpiryKind { entitlements, sanctions, limits };

class CommandStore {
 public:
  virtual ~CommandStore() = default;

  virtual boost::asio::awaitable<CommandResult> grant_entitlement(
      const RequestContext& ctx, std::string_view user_id, const domain::Entitlement& entitlement,
      std::string_view source, const CommandMeta& meta, const CommandEvents& events) = 0;
  // Conflict unless the current entitlement is paid, has an end, and that end is before
  // `ends_at`.
  virtual boost::asio::awaitable<CommandResult> extend_entitlement(
      const RequestContext& ctx, std::string_view user_id, domain::TimePoint ends_at,
      std::string_view source, const CommandMeta& meta, const CommandEvents& events) = 0;
  // Conflict when the current plan is already free.
  virtual boost::asio::awaitable<CommandResult> revoke_entitlement(const RequestContext& ctx,
                                                                   std::string_view user_id,
                                                                   const CommandMeta& meta,
                                                                   const CommandEvents& events) = 0;

  // Applies or re-applies (replacing expiry, reason, actor and applied_at).
  virtual boost::asio::awaitable<CommandResult> apply_sanction(
      const RequestContext& ctx, std::string_view user_id, std::string_view sanction_code,
      std::optional<domain::TimePoint> expires_at, const CommandMeta& meta,
      const CommandEvents& events) = 0;
  // Conflict when the sanction is not active.
  virtual boost::asio::awaitable<CommandResult> remove_sanction(const RequestContext& ctx,
                                                                std::string_view user_id,
                                                                std::string_view sanction_code,
                                                                const CommandMeta& meta,
                                                                const CommandEvents& events) = 0;

  // Sets or replaces the override.
  virtual boost::asio::awaitable<CommandResult> set_limit(
      const RequestContext& ctx, std::string_view user_id, std::string_view limit_code,
      std::int64_t value, std::optional<domain::TimePoint> expires_at, const CommandMeta& meta,
      const CommandEvents& events) = 0;
  // Conflict when no override is active.
  virtual boost::asio::awaitable<CommandResult> remove_limit(const RequestContext& ctx,
                                                             std::string_view user_id,
                                                             std::string_view limit_code,
                                                             const CommandMeta& meta,
                                                             const CommandEvents& events) = 0;

  virtual boost::asio::awaitable<HistorySlice<EntitlementRecord>> entitlement_history(
      const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) = 0;
  virtual boost::asio::awaitable<HistorySlice<SanctionRecord>> sanction_history(
      const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) = 0;
  virtual boost::asio::awaitable<HistorySlice<LimitRecord>> limit_history(const RequestContext& ctx,
                                                                          std::string_view user_id,
                                                                          std::int64_t before,
                                                                          int limit) = 0;

  // Expires up to `batch` items of `kind` that lapsed at or before `now`, in one short
  // transaction: the current row is moved out, an `expire` record and its event(s) are
  // written. Items of users whose account row another transaction holds, and items another
  // sweeper holds, are skipped (left for the next batch), so concurrent sweepers never
  // process one item twice. `event_ids` holds 2 * batch minted ids. Returns how many
  // items were expired.
  virtual boost::asio::awaitable<int> expire_due(const RequestContext& ctx, ExpiryKind kind,
                                                 domain::TimePoint now, int batch,
                                                 const std::vector<std::string>& event_ids) = 0;
};

}  // namespace userservice::services
