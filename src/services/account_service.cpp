#include "services/account_service.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "domain/email.h"
#include "domain/error.h"
#include "domain/ids.h"
#include "domain/locale.h"
#include "domain/policy.h"
#include "domain/user_id.h"
#include "domain/user_name.h"

namespace userservice::services {

using domain::Error;
using domain::ErrorCode;

namespace {

constexpr std::size_t kMaxBatch = 100;
// Minted user names collide with probability n / 36^6; a handful of retries makes a
// failure astronomically unlikely rather than merely rare.
constexpr int kMintAttempts = 8;

Error subject_not_found(std::string_view user_id) {
  return Error(ErrorCode::subject_not_found, "user " + std::string(user_id) + " does not exist");
}

}  // namespace

Resolution resolve(const EmailFacts& f, domain::TimePoint now) {
  Resolution r;
  if (f.blocked_reason_code) {
    r.kind = Resolution::Kind::blocked;
    r.block_reason_code = *f.blocked_reason_code;
  } else if (!f.user_id) {
    r.kind = Resolution::Kind::creatable;
  } else if (f.deleted) {
    r.kind = Resolution::Kind::blocked;
    r.block_reason_code = "account_deleted";
  } else if (f.has_login_block && domain::is_active(f.login_block_expires_at, now)) {
    r.kind = Resolution::Kind::blocked;
    r.block_reason_code = std::string(domain::kLoginBlock);
    r.user_id = f.user_id;
  } else {
    r.kind = Resolution::Kind::existing;
    r.user_id = f.user_id;
  }
  return r;
}

EventStamp AccountService::stamp(const RequestContext& ctx, domain::TimePoint now) {
  return EventStamp{domain::mint_event_id(now, random_), traceparent_of(ctx), now};
}

boost::asio::awaitable<bool> AccountService::exists(const RequestContext& ctx,
                                                    std::string_view user_id) {
  domain::require_well_formed_user_id(user_id);
  co_return co_await store_.live_account_exists(ctx, user_id);
}

boost::asio::awaitable<Resolution> AccountService::resolve_by_email(const RequestContext& ctx,
                                                                    std::string_view raw_email) {
  std::string email = domain::require_valid_email(raw_email);
  EmailFacts facts = co_await store_.email_facts(ctx, email);
  co_return resolve(facts, now_());
}

boost::asio::awaitable<EnsureResult> AccountService::ensure_by_email(
    const RequestContext& ctx, std::string_view raw_email, const RegistrationContext& reg) {
  std::string email = domain::require_valid_email(raw_email);
  if (reg.preferred_language) domain::require_valid_language(*reg.preferred_language);
  if (reg.time_zone) domain::require_valid_time_zone(*reg.time_zone);
  // On the login path the account usually exists: one read answers that (a read that
  // coalescing can share with other callers), and only a free email costs the write.
  {
    EmailFacts facts = co_await store_.email_facts(ctx, email);
    Resolution res = resolve(facts, now_());
    if (res.kind != Resolution::Kind::creatable) co_return EnsureResult{false, std::move(res)};
  }
  for (int attempt = 0; attempt < kMintAttempts; ++attempt) {
    const domain::TimePoint now = now_();
    NewAccount account{domain::mint_user_id(now, random_),
                       email,
                       domain::mint_user_name(random_),
                       reg.preferred_language.value_or("en"),
                       reg.time_zone.value_or("UTC"),
                       now,
                       stamp(ctx, now)};
    EnsureOutcome outcome = co_await store_.ensure_account(ctx, account);
    if (outcome.created) {
      EnsureResult r;
      r.created = true;
      r.resolution.kind = Resolution::Kind::existing;
      r.resolution.user_id = account.user_id;
      co_return r;
    }
    Resolution res = resolve(outcome.facts, now);
    if (res.kind != Resolution::Kind::creatable) co_return EnsureResult{false, std::move(res)};
    // Not created, yet creatable: a minted user name or id collided. Mint again.
  }
  throw Error(
      ErrorCode::service_unavailable, "could not allocate a user name, try again",
      "ensure_by_email: minted values collided " + std::to_string(kMintAttempts) + " times");
}

boost::asio::awaitable<domain::AccountState> AccountService::account(const RequestContext& ctx,
                                                                     std::string_view user_id) {
  domain::require_well_formed_user_id(user_id);
  auto state = co_await store_.account_by_id(ctx, user_id, false);
  if (!state) throw subject_not_found(user_id);
  co_return domain::effective_state(std::move(*state), now_());
}

boost::asio::awaitable<domain::AccountState> AccountService::update_profile(
    const RequestContext& ctx, std::string_view user_id, std::string_view user_name) {
  domain::require_well_formed_user_id(user_id);
  domain::require_valid_user_name(user_name);
  const domain::TimePoint now = now_();
  UpdateResult r = co_await store_.update_user_name(ctx, user_id, user_name, stamp(ctx, now));
  if (r.status == UpdateStatus::not_found || !r.state) throw subject_not_found(user_id);
  if (r.status == UpdateStatus::policy_denied) {
    throw Error(ErrorCode::policy_denied, "an active profile_update_block forbids this change");
  }
  co_return domain::effective_state(std::move(*r.state), now);
}

boost::asio::awaitable<domain::AccountState> AccountService::update_settings(
    const RequestContext& ctx, std::string_view user_id, SettingsChange change) {
  domain::require_well_formed_user_id(user_id);
  if (!change.preferred_language && !change.time_zone) {
    throw domain::invalid_request("patch must set preferred_language or time_zone");
  }
  if (change.preferred_language) domain::require_valid_language(*change.preferred_language);
  if (change.time_zone) domain::require_valid_time_zone(*change.time_zone);
  const domain::TimePoint now = now_();
  UpdateResult r = co_await store_.update_settings(ctx, user_id, change, stamp(ctx, now));
  if (r.status == UpdateStatus::not_found || !r.state) throw subject_not_found(user_id);
  if (r.status == UpdateStatus::policy_denied) {
    throw Error(ErrorCode::policy_denied, "an active profile_update_block forbids this change");
  }
  co_return domain::effective_state(std::move(*r.state), now);
}

boost::asio::awaitable<CountryResult> AccountService::set_declared_country(
    const RequestContext& ctx, std::string_view user_id, std::optional<std::string> country) {
  domain::require_well_formed_user_id(user_id);
  if (country) domain::require_valid_country(*country);
  const domain::TimePoint now = now_();
  CountryResult r = co_await store_.set_declared_country(ctx, user_id, country, stamp(ctx, now));
  if (r.status == UpdateStatus::not_found) throw subject_not_found(user_id);
  co_return r;
}

boost::asio::awaitable<domain::Eligibility> AccountService::eligibility(const RequestContext& ctx,
                                                                        std::string_view user_id) {
  domain::AccountState s = co_await account(ctx, user_id);
  co_return domain::eligibility(s);
}

std::vector<std::string> AccountService::distinct_ids(std::span<const std::string> user_ids) {
  if (user_ids.empty() || user_ids.size() > kMaxBatch) {
    throw domain::invalid_request("user_ids must hold 1 to 100 ids");
  }
  std::vector<std::string> out;
  out.reserve(user_ids.size());
  std::unordered_set<std::string_view> seen;
  for (const auto& id : user_ids) {
    if (!domain::is_well_formed_user_id(id)) {
      throw domain::invalid_request("user_ids must hold ids of 1-64 characters of [A-Za-z0-9_-]");
    }
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

boost::asio::awaitable<BatchResult> AccountService::eligibility_batch(
    const RequestContext& ctx, std::span<const std::string> user_ids) {
  std::vector<std::string> ids = distinct_ids(user_ids);
  std::vector<domain::AccountState> found = co_await store_.live_accounts(ctx, ids);
  const domain::TimePoint now = now_();
  std::unordered_map<std::string_view, domain::AccountState*> by_id;
  for (auto& s : found) by_id.emplace(s.account.user_id, &s);
  BatchResult out;
  out.items.reserve(found.size());
  for (const auto& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      out.not_found.push_back(id);
    } else {
      // Copied, not moved: the map's keys view the stored user ids.
      out.items.push_back(domain::eligibility(domain::effective_state(*it->second, now)));
    }
  }
  co_return out;
}

boost::asio::awaitable<ProfilesResult> AccountService::profiles_batch(
    const RequestContext& ctx, std::span<const std::string> user_ids) {
  std::vector<std::string> ids = distinct_ids(user_ids);
  std::vector<ProfileSummary> found = co_await store_.live_profiles(ctx, ids);
  std::unordered_map<std::string_view, ProfileSummary*> by_id;
  for (auto& p : found) by_id.emplace(p.user_id, &p);
  ProfilesResult out;
  out.items.reserve(found.size());
  for (const auto& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      out.not_found.push_back(id);
    } else {
      out.items.push_back(*it->second);  // copied: the map's keys view the stored ids
    }
  }
  co_return out;
}

boost::asio::awaitable<domain::AccountState> AccountService::lookup_by_id(
    const RequestContext& ctx, std::string_view user_id) {
  domain::require_well_formed_user_id(user_id);
  auto state = co_await store_.account_by_id(ctx, user_id, true);
  if (!state) throw subject_not_found(user_id);
  co_return domain::effective_state(std::move(*state), now_());
}

boost::asio::awaitable<domain::AccountState> AccountService::lookup_by_email(
    const RequestContext& ctx, std::string_view raw_email) {
  std::string email = domain::require_valid_email(raw_email);
  auto state = co_await store_.account_by_email(ctx, email);
  if (!state) throw Error(ErrorCode::subject_not_found, "no account has this email");
  co_return domain::effective_state(std::move(*state), now_());
}

boost::asio::awaitable<domain::AccountState> AccountService::lookup_by_user_name(
    const RequestContext& ctx, std::string_view user_name) {
  // Any stored name matches the user-name grammar (minted ones included), so anything
  // else cannot name an account.
  if (!domain::is_valid_user_name(user_name) && !user_name.starts_with("player-")) {
    throw Error(ErrorCode::subject_not_found, "no account has this user name");
  }
  auto state = co_await store_.account_by_user_name(ctx, user_name);
  if (!state) throw Error(ErrorCode::subject_not_found, "no account has this user name");
  co_return domain::effective_state(std::move(*state), now_());
}

boost::asio::awaitable<DeleteResult> AccountService::soft_delete(const RequestContext& ctx,
                                                                 std::string_view user_id,
                                                                 std::string_view reason_code,
                                                                 const domain::Actor& actor) {
  domain::require_well_formed_user_id(user_id);
  domain::require_valid_reason_code(reason_code);
  domain::require_valid_actor(actor);
  const domain::TimePoint now = now_();
  DeleteResult r = co_await store_.soft_delete(ctx, user_id, reason_code, actor, stamp(ctx, now));
  if (!r.found) throw subject_not_found(user_id);
  co_return r;
}

boost::asio::awaitable<std::pair<BlockedEmail, bool>> AccountService::block_email(
    const RequestContext& ctx, std::string_view raw_email, std::string_view reason_code,
    const domain::Actor& actor) {
  std::string email = domain::require_valid_email(raw_email);
  domain::require_valid_reason_code(reason_code);
  domain::require_valid_actor(actor);
  co_return co_await store_.block_email(ctx, email, reason_code, actor, now_());
}

boost::asio::awaitable<BlockedEmail> AccountService::blocked_email(const RequestContext& ctx,
                                                                   std::string_view raw_email) {
  std::string email = domain::require_valid_email(raw_email);
  auto b = co_await store_.blocked_email(ctx, email);
  if (!b) throw Error(ErrorCode::not_found, "email is not blocked");
  co_return std::move(*b);
}

boost::asio::awaitable<void> AccountService::unblock_email(const RequestContext& ctx,
                                                           std::string_view raw_email) {
  std::string email = domain::require_valid_email(raw_email);
  if (!co_await store_.unblock_email(ctx, email)) {
    throw Error(ErrorCode::not_found, "email is not blocked");
  }
}

}  // namespace userservice::services
