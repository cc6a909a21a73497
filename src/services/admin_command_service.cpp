#include "services/admin_command_service.h"

#include "domain/commands.h"
#include "domain/error.h"
#include "domain/ids.h"
#include "domain/page_token.h"
#include "domain/policy.h"
#include "domain/user_id.h"

namespace userservice::services {

using domain::Error;
using domain::ErrorCode;
using domain::TimePoint;

namespace {

Error subject_not_found(std::string_view user_id) {
  return Error(ErrorCode::subject_not_found, "user " + std::string(user_id) + " does not exist");
}

void require_valid_meta(const CommandMeta& meta) {
  domain::require_valid_reason_code(meta.reason_code);
  domain::require_valid_actor(meta.actor);
}

int require_page_size(const PageRequest& page) {
  const std::int64_t size = page.page_size.value_or(kDefaultHistoryPageSize);
  if (size < 1 || size > kMaxHistoryPageSize) {
    throw domain::invalid_request("page_size must be an integer from 1 to 200");
  }
  return static_cast<int>(size);
}

// Tokens are bound to the route and the user: one issued for another user's (or another
// kind's) history fails the tag check.
std::string history_scope(std::string_view kind, std::string_view user_id) {
  return "history/" + std::string(kind) + "/" + std::string(user_id);
}

// One page of any history: validate, fetch one record more than asked to learn whether a
// next page exists, mint its token from the last record shown.
template <typename Record, typename Fetch>
boost::asio::awaitable<HistoryPage<Record>> page_of(std::string_view kind, std::string_view user_id,
                                                    const PageRequest& page, Fetch fetch) {
  domain::require_well_formed_user_id(user_id);
  const int size = require_page_size(page);
  const std::string scope = history_scope(kind, user_id);
  std::int64_t before = INT64_MAX;
  if (page.page_token) before = domain::decode_record_cursor(scope, *page.page_token);
  std::optional<std::vector<Record>> records = co_await fetch(before, size + 1);
  if (!records) throw subject_not_found(user_id);
  HistoryPage<Record> out;
  if (records->size() > static_cast<std::size_t>(size)) {
    records->resize(size);
    out.next_page_token = domain::encode_record_cursor(scope, records->back().info.record_id);
  }
  out.items = std::move(*records);
  co_return out;
}

}  // namespace

TimePoint AdminCommandService::now() const {
  return std::chrono::floor<std::chrono::microseconds>(now_());
}

CommandEvents AdminCommandService::events(const RequestContext& ctx, TimePoint now,
                                          std::size_t expiry_ids, bool lifecycle) {
  CommandEvents e;
  e.event = EventStamp{domain::mint_event_id(now, random_), traceparent_of(ctx), now};
  if (lifecycle) e.lifecycle_event_id = domain::mint_event_id(now, random_);
  e.expiry_event_ids.reserve(expiry_ids);
  for (std::size_t i = 0; i < expiry_ids; ++i) {
    e.expiry_event_ids.push_back(domain::mint_event_id(now, random_));
  }
  return e;
}

domain::AccountState AdminCommandService::finish(const CommandResult& r, std::string_view user_id,
                                                 TimePoint now, std::string_view conflict) {
  if (r.outcome == CommandOutcome::not_found || !r.state) throw subject_not_found(user_id);
  if (r.outcome == CommandOutcome::conflict)
    throw Error(ErrorCode::conflict, std::string(conflict));
  return domain::effective_state(*r.state, now);
}

// ---- Entitlements -----------------------------------------------------------------------

boost::asio::awaitable<domain::AccountState> AdminCommandService::grant_entitlement(
    const RequestContext& ctx, std::string_view user_id, const GrantRequest& req) {
  domain::require_well_formed_user_id(user_id);
  const TimePoint t = now();
  domain::Entitlement e = domain::grant_entitlement(req.plan_code, req.starts_at, req.ends_at, t);
  domain::require_valid_entitlement_source(req.source);
  require_valid_meta(req.meta);
  // One expiry event at most: the lapsed entitlement this grant replaces.
  const CommandEvents ev = events(ctx, t, 1, false);
  CommandResult r = co_await store_.grant_entitlement(ctx, user_id, e, req.source, req.meta, ev);
  co_return finish(r, user_id, t, "grant was not applied");
}

boost::asio::awaitable<domain::AccountState> AdminCommandService::extend_entitlement(
    const RequestContext& ctx, std::string_view user_id, TimePoint ends_at, std::string_view source,
    const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  const TimePoint t = now();
  domain::require_future(ends_at, "ends_at", t);
  domain::require_valid_entitlement_source(source);
  require_valid_meta(meta);
  const CommandEvents ev = events(ctx, t, 1, false);
  CommandResult r = co_await store_.extend_entitlement(ctx, user_id, ends_at, source, meta, ev);
  std::string conflict = "entitlement cannot be extended";
  if (r.prior_entitlement) {
    auto why =
        domain::extend_conflict(domain::effective_entitlement(*r.prior_entitlement, t), ends_at);
    if (why) conflict = std::move(*why);
  }
  co_return finish(r, user_id, t, conflict);
}

boost::asio::awaitable<domain::AccountState> AdminCommandService::revoke_entitlement(
    const RequestContext& ctx, std::string_view user_id, const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  require_valid_meta(meta);
  const TimePoint t = now();
  const CommandEvents ev = events(ctx, t, 1, false);
  CommandResult r = co_await store_.revoke_entitlement(ctx, user_id, meta, ev);
  std::string conflict = "entitlement is already free";
  if (r.prior_entitlement) {
    auto why = domain::revoke_conflict(domain::effective_entitlement(*r.prior_entitlement, t));
    if (why) conflict = std::move(*why);
  }
  co_return finish(r, user_id, t, conflict);
}

// ---- Sanctions --------------------------------------------------------------------------

boost::asio::awaitable<domain::AccountState> AdminCommandService::apply_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    std::optional<TimePoint> expires_at, const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  domain::require_sanction(code);
  const TimePoint t = now();
  if (expires_at) domain::require_future(*expires_at, "expires_at", t);
  require_valid_meta(meta);
  // Two expiry events at most: the lapsed sanction this apply replaces (+ lifecycle).
  const CommandEvents ev = events(ctx, t, 2, domain::has_lifecycle_events(code));
  CommandResult r = co_await store_.apply_sanction(ctx, user_id, code, expires_at, meta, ev);
  co_return finish(r, user_id, t, "sanction was not applied");
}

boost::asio::awaitable<domain::AccountState> AdminCommandService::remove_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  domain::require_sanction(code);
  require_valid_meta(meta);
  const TimePoint t = now();
  const CommandEvents ev = events(ctx, t, 2, domain::has_lifecycle_events(code));
  CommandResult r = co_await store_.remove_sanction(ctx, user_id, code, meta, ev);
  co_return finish(r, user_id, t, "sanction " + std::string(code) + " is not active");
}

// ---- Limits -----------------------------------------------------------------------------

boost::asio::awaitable<domain::AccountState> AdminCommandService::set_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code, std::int64_t value,
    std::optional<TimePoint> expires_at, const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  domain::require_limit(code);
  domain::require_valid_limit_value(value);
  const TimePoint t = now();
  if (expires_at) domain::require_future(*expires_at, "expires_at", t);
  require_valid_meta(meta);
  const CommandEvents ev = events(ctx, t, 1, false);
  CommandResult r = co_await store_.set_limit(ctx, user_id, code, value, expires_at, meta, ev);
  co_return finish(r, user_id, t, "limit was not set");
}

boost::asio::awaitable<domain::AccountState> AdminCommandService::remove_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const CommandMeta& meta) {
  domain::require_well_formed_user_id(user_id);
  domain::require_limit(code);
  require_valid_meta(meta);
  const TimePoint t = now();
  const CommandEvents ev = events(ctx, t, 1, false);
  CommandResult r = co_await store_.remove_limit(ctx, user_id, code, meta, ev);
  co_return finish(r, user_id, t, "limit " + std::string(code) + " has no active override");
}

// ---- History ----------------------------------------------------------------------------

boost::asio::awaitable<HistoryPage<EntitlementRecord>> AdminCommandService::entitlement_history(
    const RequestContext& ctx, std::string_view user_id, const PageRequest& page) {
  co_return co_await page_of<EntitlementRecord>(
      "entitlements", user_id, page, [&](std::int64_t before, int limit) {
        return store_.entitlement_history(ctx, user_id, before, limit);
      });
}

boost::asio::awaitable<HistoryPage<SanctionRecord>> AdminCommandService::sanction_history(
    const RequestContext& ctx, std::string_view user_id, const PageRequest& page) {
  co_return co_await page_of<SanctionRecord>(
      "sanctions", user_id, page, [&](std::int64_t before, int limit) {
        return store_.sanction_history(ctx, user_id, before, limit);
      });
}

boost::asio::awaitable<HistoryPage<LimitRecord>> AdminCommandService::limit_history(
    const RequestContext& ctx, std::string_view user_id, const PageRequest& page) {
  co_return co_await page_of<LimitRecord>(
      "limits", user_id, page, [&](std::int64_t before, int limit) {
        return store_.limit_history(ctx, user_id, before, limit);
      });
}

}  // namespace userservice::services
