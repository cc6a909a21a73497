#pragma once
// Admin commands on entitlements, sanctions and limits, and their history (api.md §8).
// Validates input with the domain layer against the injected clock, mints event ids,
// asks the CommandStore, explains conflicts, and answers the account view as effective at
// the command's moment.
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/context.h"
#include "domain/account.h"
#include "domain/random.h"
#include "services/command_store.h"

namespace userservice::services {

inline constexpr int kDefaultHistoryPageSize = 50;
inline constexpr int kMaxHistoryPageSize = 200;

struct GrantRequest {
  std::string plan_code;
  std::optional<domain::TimePoint> starts_at;  // default: now
  std::optional<domain::TimePoint> ends_at;
  std::string source;
  CommandMeta meta;
};

struct PageRequest {
  std::optional<std::int64_t> page_size;  // default kDefaultHistoryPageSize
  std::optional<std::string> page_token;  // absent: the newest page
};

template <typename Record>
struct HistoryPage {
  std::vector<Record> items;  // newest first
  std::optional<std::string> next_page_token;
};

class AdminCommandService {
 public:
  using NowFn = std::function<domain::TimePoint()>;

  AdminCommandService(CommandStore& store, domain::RandomSource& random, NowFn now)
      : store_(store), random_(random), now_(std::move(now)) {}

  // Each: 400 invalid_request (validation), 404 subject_not_found (unknown or soft-deleted
  // user), 409 conflict (the rule of api.md §8); otherwise the effective account state.
  boost::asio::awaitable<domain::AccountState> grant_entitlement(const RequestContext& ctx,
                                                                 std::string_view user_id,
                                                                 const GrantRequest& request);
  boost::asio::awaitable<domain::AccountState> extend_entitlement(const RequestContext& ctx,
                                                                  std::string_view user_id,
                                                                  domain::TimePoint ends_at,
                                                                  std::string_view source,
                                                                  const CommandMeta& meta);
  boost::asio::awaitable<domain::AccountState> revoke_entitlement(const RequestContext& ctx,
                                                                  std::string_view user_id,
                                                                  const CommandMeta& meta);
  boost::asio::awaitable<domain::AccountState> apply_sanction(
      const RequestContext& ctx, std::string_view user_id, std::string_view sanction_code,
      std::optional<domain::TimePoint> expires_at, const CommandMeta& meta);
  boost::asio::awaitable<domain::AccountState> remove_sanction(const RequestContext& ctx,
                                                               std::string_view user_id,
                                                               std::string_view sanction_code,
                                                               const CommandMeta& meta);
  boost::asio::awaitable<domain::AccountState> set_limit(
      const RequestContext& ctx, std::string_view user_id, std::string_view limit_code,
      std::int64_t value, std::optional<domain::TimePoint> expires_at, const CommandMeta& meta);
  boost::asio::awaitable<domain::AccountState> remove_limit(const RequestContext& ctx,
                                                            std::string_view user_id,
                                                            std::string_view limit_code,
                                                            const CommandMeta& meta);

  // History, newest first. Soft-deleted accounts keep their history readable (admin read);
  // unknown ids are 404. A page_size outside 1..200 or a page_token that is not one this
  // route issued for this user is 400.
  boost::asio::awaitable<HistoryPage<EntitlementRecord>> entitlement_history(
      const RequestContext& ctx, std::string_view user_id, const PageRequest& page);
  boost::asio::awaitable<HistoryPage<SanctionRecord>> sanction_history(const RequestContext& ctx,
                                                                       std::string_view user_id,
                                                                       const PageRequest& page);
  boost::asio::awaitable<HistoryPage<LimitRecord>> limit_history(const RequestContext& ctx,
                                                                 std::string_view user_id,
                                                                 const PageRequest& page);

 private:
  // The command's moment, at the database's precision (µs) so that the rules checked here
  // and the ones checked in SQL see the same instant.
  domain::TimePoint now() const;
  CommandEvents events(const RequestContext& ctx, domain::TimePoint now, std::size_t expiry_ids,
                       bool lifecycle);
  domain::AccountState finish(const CommandResult& result, std::string_view user_id,
                              domain::TimePoint now, std::string_view conflict_message);

  CommandStore& store_;
  domain::RandomSource& random_;
  NowFn now_;
};

}  // namespace userservice::services
