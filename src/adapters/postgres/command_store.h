#pragma once
#include "services/command_store.h"

namespace userservice::postgres {

class Pool;
class ReadSources;

// services::CommandStore on PostgreSQL. A command is one round trip: four pipelined
// statements in one implicit transaction — lock the account row; expire the touched item if
// it has lapsed; the command itself (a data-modifying CTE writing the current row, the
// history record and the outbox event(s)); read the account state. The lock is its own
// statement on purpose: in READ COMMITTED each statement takes a fresh snapshot, so the
// statements after it see everything the previous holder of the lock committed.
class PgCommandStore final : public services::CommandStore {
 public:
  // `history`, when set, serves the first page of each history walk from a usable replica
  // (USERSERVICE_POSTGRES_REPLICA_READS); later pages read the primary, which holds every
  // record a replica showed, so a walk never skips one.
  explicit PgCommandStore(Pool& primary, ReadSources* history = nullptr)
      : primary_(primary), history_(history) {}

  boost::asio::awaitable<services::CommandResult> grant_entitlement(
      const RequestContext& ctx, std::string_view user_id, const domain::Entitlement& entitlement,
      std::string_view source, const services::CommandMeta& meta,
      const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> extend_entitlement(
      const RequestContext& ctx, std::string_view user_id, domain::TimePoint ends_at,
      std::string_view source, const services::CommandMeta& meta,
      const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> revoke_entitlement(
      const RequestContext& ctx, std::string_view user_id, const services::CommandMeta& meta,
      const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> apply_sanction(
      const RequestContext& ctx, std::string_view user_id, std::string_view sanction_code,
      std::optional<domain::TimePoint> expires_at, const services::CommandMeta& meta,
      const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> remove_sanction(
      const RequestContext& ctx, std::string_view user_id, std::string_view sanction_code,
      const services::CommandMeta& meta, const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> set_limit(
      const RequestContext& ctx, std::string_view user_id, std::string_view limit_code,
      std::int64_t value, std::optional<domain::TimePoint> expires_at,
      const services::CommandMeta& meta, const services::CommandEvents& events) override;
  boost::asio::awaitable<services::CommandResult> remove_limit(
      const RequestContext& ctx, std::string_view user_id, std::string_view limit_code,
      const services::CommandMeta& meta, const services::CommandEvents& events) override;

  boost::asio::awaitable<services::HistorySlice<services::EntitlementRecord>> entitlement_history(
      const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) override;
  boost::asio::awaitable<services::HistorySlice<services::SanctionRecord>> sanction_history(
      const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) override;
  boost::asio::awaitable<services::HistorySlice<services::LimitRecord>> limit_history(
      const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) override;

  boost::asio::awaitable<int> expire_due(const RequestContext& ctx, services::ExpiryKind kind,
                                         domain::TimePoint now, int batch,
                                         const std::vector<std::string>& event_ids) override;

 private:
  Pool& primary_;
  ReadSources* history_;
};

}  // namespace userservice::postgres
