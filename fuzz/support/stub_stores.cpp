#include "support/stub_stores.h"

namespace userservice::fuzz {

namespace {

using boost::asio::awaitable;
using namespace userservice::services;

[[noreturn]] void reached() { throw StoreReached{}; }

class StubUserStore final : public UserStore {
 public:
  awaitable<bool> live_account_exists(const RequestContext&, std::string_view) override {
    reached();
  }
  awaitable<EmailFacts> email_facts(const RequestContext&, std::string_view) override { reached(); }
  awaitable<EnsureOutcome> ensure_account(const RequestContext&, const NewAccount&) override {
    reached();
  }
  awaitable<std::optional<domain::AccountState>> account_by_id(const RequestContext&,
                                                               std::string_view, bool) override {
    reached();
  }
  awaitable<std::optional<domain::AccountState>> account_by_email(const RequestContext&,
                                                                  std::string_view) override {
    reached();
  }
  awaitable<std::optional<domain::AccountState>> account_by_user_name(const RequestContext&,
                                                                      std::string_view) override {
    reached();
  }
  awaitable<std::vector<domain::AccountState>> live_accounts(
      const RequestContext&, std::span<const std::string>) override {
    reached();
  }
  awaitable<std::vector<ProfileSummary>> live_profiles(const RequestContext&,
                                                       std::span<const std::string>) override {
    reached();
  }
  awaitable<UpdateResult> update_user_name(const RequestContext&, std::string_view,
                                           std::string_view, const EventStamp&) override {
    reached();
  }
  awaitable<UpdateResult> update_settings(const RequestContext&, std::string_view,
                                          const SettingsChange&, const EventStamp&) override {
    reached();
  }
  awaitable<CountryResult> set_declared_country(const RequestContext&, std::string_view,
                                                const std::optional<std::string>&,
                                                const EventStamp&) override {
    reached();
  }
  awaitable<DeleteResult> soft_delete(const RequestContext&, std::string_view, std::string_view,
                                      const domain::Actor&, const EventStamp&) override {
    reached();
  }
  awaitable<std::pair<BlockedEmail, bool>> block_email(const RequestContext&, std::string_view,
                                                       std::string_view, const domain::Actor&,
                                                       TimePoint) override {
    reached();
  }
  awaitable<std::optional<BlockedEmail>> blocked_email(const RequestContext&,
                                                       std::string_view) override {
    reached();
  }
  awaitable<bool> unblock_email(const RequestContext&, std::string_view) override { reached(); }
};

class StubCommandStore final : public CommandStore {
 public:
  awaitable<CommandResult> grant_entitlement(const RequestContext&, std::string_view,
                                             const domain::Entitlement&, std::string_view,
                                             const CommandMeta&, const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> extend_entitlement(const RequestContext&, std::string_view,
                                              domain::TimePoint, std::string_view,
                                              const CommandMeta&, const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> revoke_entitlement(const RequestContext&, std::string_view,
                                              const CommandMeta&, const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> apply_sanction(const RequestContext&, std::string_view, std::string_view,
                                          std::optional<domain::TimePoint>, const CommandMeta&,
                                          const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> remove_sanction(const RequestContext&, std::string_view,
                                           std::string_view, const CommandMeta&,
                                           const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> set_limit(const RequestContext&, std::string_view, std::string_view,
                                     std::int64_t, std::optional<domain::TimePoint>,
                                     const CommandMeta&, const CommandEvents&) override {
    reached();
  }
  awaitable<CommandResult> remove_limit(const RequestContext&, std::string_view, std::string_view,
                                        const CommandMeta&, const CommandEvents&) override {
    reached();
  }
  awaitable<HistorySlice<EntitlementRecord>> entitlement_history(const RequestContext&,
                                                                 std::string_view, std::int64_t,
                                                                 int) override {
    reached();
  }
  awaitable<HistorySlice<SanctionRecord>> sanction_history(const RequestContext&, std::string_view,
                                                           std::int64_t, int) override {
    reached();
  }
  awaitable<HistorySlice<LimitRecord>> limit_history(const RequestContext&, std::string_view,
                                                     std::int64_t, int) override {
    reached();
  }
  awaitable<int> expire_due(const RequestContext&, ExpiryKind, domain::TimePoint, int,
                            const std::vector<std::string>&) override {
    reached();
  }
};

class StubListingStore final : public ListingStore {
 public:
  awaitable<ListingSlice> list_accounts(const RequestContext&, const ListingFilter&,
                                        const std::optional<ListingCursor>&,
                                        std::optional<unsigned>, domain::TimePoint, int) override {
    reached();
  }
};

class UnusedCall final : public KeyedCall {
 public:
  DbTransaction* transaction() noexcept override { return nullptr; }
  State state() const override { return State::unused; }
  awaitable<void> commit(const RequestContext&, const StoredAnswer&) override { reached(); }
  awaitable<Replay> replay(const RequestContext&) override { reached(); }
};

class StubIdempotencyStore final : public IdempotencyStore {
 public:
  std::unique_ptr<KeyedCall> begin(std::string, std::string) override {
    return std::make_unique<UnusedCall>();
  }
  awaitable<int> purge_expired(const RequestContext&, int) override { reached(); }
};

}  // namespace

std::unique_ptr<UserStore> make_stub_user_store() { return std::make_unique<StubUserStore>(); }
std::unique_ptr<CommandStore> make_stub_command_store() {
  return std::make_unique<StubCommandStore>();
}
std::unique_ptr<ListingStore> make_stub_listing_store() {
  return std::make_unique<StubListingStore>();
}
std::unique_ptr<IdempotencyStore> make_stub_idempotency_store() {
  return std::make_unique<StubIdempotencyStore>();
}

}  // namespace userservice::fuzz
