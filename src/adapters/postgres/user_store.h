#pragma once
#include "services/user_store.h"

namespace userservice::postgres {

class Pool;
class ReadSources;
class Result;
struct Statement;

// services::UserStore on PostgreSQL. Every statement is a named constant prepared once
// per connection; each method is one round trip (several statements are pipelined into
// one implicit transaction); driver errors are translated here, never above.
class PgUserStore final : public services::UserStore {
 public:
  // `lookups`, when set, serves the admin lookups (by id with deleted accounts, by email, by
  // user name, a blocked email) from a usable replica (USERSERVICE_POSTGRES_REPLICA_READS):
  // up to the lag bound stale; everything else reads and writes the primary.
  explicit PgUserStore(Pool& primary, ReadSources* lookups = nullptr)
      : primary_(primary), lookups_(lookups) {}

  boost::asio::awaitable<bool> live_account_exists(const RequestContext& ctx,
                                                   std::string_view user_id) override;
  boost::asio::awaitable<services::EmailFacts> email_facts(const RequestContext& ctx,
                                                           std::string_view email) override;
  boost::asio::awaitable<services::EnsureOutcome> ensure_account(
      const RequestContext& ctx, const services::NewAccount& account) override;
  boost::asio::awaitable<std::optional<domain::AccountState>> account_by_id(
      const RequestContext& ctx, std::string_view user_id, bool include_deleted) override;
  boost::asio::awaitable<std::optional<domain::AccountState>> account_by_email(
      const RequestContext& ctx, std::string_view email) override;
  boost::asio::awaitable<std::optional<domain::AccountState>> account_by_user_name(
      const RequestContext& ctx, std::string_view user_name) override;
  boost::asio::awaitable<std::vector<domain::AccountState>> live_accounts(
      const RequestContext& ctx, std::span<const std::string> user_ids) override;
  boost::asio::awaitable<std::vector<services::ProfileSummary>> live_profiles(
      const RequestContext& ctx, std::span<const std::string> user_ids) override;
  boost::asio::awaitable<services::UpdateResult> update_user_name(
      const RequestContext& ctx, std::string_view user_id, std::string_view user_name,
      const services::EventStamp& event) override;
  boost::asio::awaitable<services::UpdateResult> update_settings(
      const RequestContext& ctx, std::string_view user_id, const services::SettingsChange& change,
      const services::EventStamp& event) override;
  boost::asio::awaitable<services::CountryResult> set_declared_country(
      const RequestContext& ctx, std::string_view user_id,
      const std::optional<std::string>& country, const services::EventStamp& event) override;
  boost::asio::awaitable<services::DeleteResult> soft_delete(
      const RequestContext& ctx, std::string_view user_id, std::string_view reason_code,
      const domain::Actor& actor, const services::EventStamp& event) override;
  boost::asio::awaitable<std::pair<services::BlockedEmail, bool>> block_email(
      const RequestContext& ctx, std::string_view email, std::string_view reason_code,
      const domain::Actor& actor, domain::TimePoint now) override;
  boost::asio::awaitable<std::optional<services::BlockedEmail>> blocked_email(
      const RequestContext& ctx, std::string_view email) override;
  boost::asio::awaitable<bool> unblock_email(const RequestContext& ctx,
                                             std::string_view email) override;

 private:
  boost::asio::awaitable<Result> lookup(const Statement& st, std::string key,
                                        const RequestContext& ctx);
  Pool& primary_;
  ReadSources* lookups_;
};

}  // namespace userservice::postgres
