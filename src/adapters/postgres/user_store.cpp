#include "adapters/postgres/user_store.h"

#include "adapters/postgres/account_state.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "domain/error.h"

namespace userservice::postgres {

using domain::TimePoint;
using services::UpdateStatus;

// ---- Statements --------------------------------------------------------------------
// src/adapters/postgres/sql/user_store/*.sql, as sql::k<Name> ("sql_statements.h"). Event
// payloads are built in SQL where they need the row's previous values, so that the event
// and the change come from the same row version.

// ---- Decoding ----------------------------------------------------------------------
namespace {

services::EmailFacts decode_email_facts(const Result& r) {
  services::EmailFacts f;
  if (r.rows() == 0) return f;
  f.blocked_reason_code = r.opt_text(0, 0);
  f.user_id = r.opt_text(0, 1);
  f.deleted = r.boolean(0, 2);
  f.has_login_block = r.boolean(0, 3);
  f.login_block_expires_at = opt_time_at(r, 0, 4);
  return f;
}

UpdateStatus decode_update_status(const Result& r) {
  if (r.int64(0, 0) == 0) return UpdateStatus::not_found;
  if (r.int64(0, 1) != 0) return UpdateStatus::policy_denied;
  return r.int64(0, 2) == 0 ? UpdateStatus::unchanged : UpdateStatus::changed;
}

// The user-name uniqueness index is the only constraint a self-service write can hit.
[[noreturn]] void rethrow_translated(const SqlError& e) {
  if (is_unique_violation(e, "accounts_user_name_key")) {
    throw domain::Error(domain::ErrorCode::conflict, "user name is already taken");
  }
  throw;
}

}  // namespace

// ---- Methods -----------------------------------------------------------------------

boost::asio::awaitable<bool> PgUserStore::live_account_exists(const RequestContext& ctx,
                                                              std::string_view user_id) {
  Result r = co_await primary_.query(sql::kLiveAccountExists, {std::string(user_id)}, ctx);
  co_return r.rows() == 1 && r.boolean(0, 0);
}

boost::asio::awaitable<services::EmailFacts> PgUserStore::email_facts(const RequestContext& ctx,
                                                                      std::string_view email) {
  Result r = co_await primary_.query(sql::kEmailFacts, {std::string(email)}, ctx);
  co_return decode_email_facts(r);
}

boost::asio::awaitable<services::EnsureOutcome> PgUserStore::ensure_account(
    const RequestContext& ctx, const services::NewAccount& a) {
  std::vector<Query> queries;
  queries.push_back({&sql::kEnsureAccount,
                     Params{a.email, a.user_id, a.user_name, a.preferred_language, a.time_zone,
                            us_param(a.created_at), a.event.event_id, a.event.traceparent}});
  queries.push_back({&sql::kEmailFacts, Params{a.email}});
  std::vector<Result> results = co_await primary_.pipeline(std::move(queries), ctx);
  services::EnsureOutcome out;
  out.created = results.at(0).rows() == 1;
  out.facts = decode_email_facts(results.at(1));
  co_return out;
}

boost::asio::awaitable<Result> PgUserStore::lookup(const Statement& st, std::string key,
                                                   const RequestContext& ctx) {
  if (lookups_ == nullptr) co_return co_await primary_.query(st, Params{std::move(key)}, ctx);
  std::vector<Query> queries;
  queries.push_back({&st, Params{std::move(key)}});
  std::vector<Result> results = co_await lookups_->pipeline(std::move(queries), ctx);
  co_return std::move(results.at(0));
}

boost::asio::awaitable<std::optional<domain::AccountState>> PgUserStore::account_by_id(
    const RequestContext& ctx, std::string_view user_id, bool include_deleted) {
  // Only the admin lookup includes deleted accounts; the account view reads the primary.
  // (No co_await inside ?: — g++ 12 miscompiles it.)
  Result r;
  if (include_deleted) {
    r = co_await lookup(sql::kAccountStateById, std::string(user_id), ctx);
  } else {
    r = co_await primary_.query(sql::kAccountStateById, {std::string(user_id)}, ctx);
  }
  auto s = first_account(r);
  if (s && s->account.deleted_at && !include_deleted) co_return std::nullopt;
  co_return s;
}

boost::asio::awaitable<std::optional<domain::AccountState>> PgUserStore::account_by_email(
    const RequestContext& ctx, std::string_view email) {
  Result r = co_await lookup(sql::kAccountStateByEmail, std::string(email), ctx);
  co_return first_account(r);
}

boost::asio::awaitable<std::optional<domain::AccountState>> PgUserStore::account_by_user_name(
    const RequestContext& ctx, std::string_view user_name) {
  Result r = co_await lookup(sql::kAccountStateByUserName, std::string(user_name), ctx);
  co_return first_account(r);
}

boost::asio::awaitable<std::vector<domain::AccountState>> PgUserStore::live_accounts(
    const RequestContext& ctx, std::span<const std::string> user_ids) {
  Result r = co_await primary_.query(sql::kLiveAccountStates, {text_array(user_ids)}, ctx);
  std::vector<domain::AccountState> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_account_state(r, i));
  co_return out;
}

boost::asio::awaitable<std::vector<services::ProfileSummary>> PgUserStore::live_profiles(
    const RequestContext& ctx, std::span<const std::string> user_ids) {
  Result r = co_await primary_.query(sql::kLiveProfiles, {text_array(user_ids)}, ctx);
  std::vector<services::ProfileSummary> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.text(i, 0), r.text(i, 1), r.opt_text(i, 2)});
  }
  co_return out;
}

boost::asio::awaitable<services::UpdateResult> PgUserStore::update_user_name(
    const RequestContext& ctx, std::string_view user_id, std::string_view user_name,
    const services::EventStamp& event) {
  std::vector<Query> queries;
  queries.push_back({&sql::kLockLiveAccount, Params{std::string(user_id)}});
  queries.push_back({&sql::kUpdateUserName,
                     Params{std::string(user_id), std::string(user_name),
                            us_param(event.occurred_at), event.event_id, event.traceparent}});
  queries.push_back({&sql::kAccountStateById, Params{std::string(user_id)}});
  std::vector<Result> results;
  try {
    results = co_await primary_.pipeline(std::move(queries), ctx);
  } catch (const SqlError& e) {
    rethrow_translated(e);
  }
  services::UpdateResult out;
  out.status = decode_update_status(results.at(1));
  if (out.status != UpdateStatus::not_found) out.state = first_account(results.at(2));
  co_return out;
}

boost::asio::awaitable<services::UpdateResult> PgUserStore::update_settings(
    const RequestContext& ctx, std::string_view user_id, const services::SettingsChange& change,
    const services::EventStamp& event) {
  std::vector<Query> queries;
  queries.push_back({&sql::kLockLiveAccount, Params{std::string(user_id)}});
  queries.push_back({&sql::kUpdateSettings,
                     Params{std::string(user_id), change.preferred_language, change.time_zone,
                            us_param(event.occurred_at), event.event_id, event.traceparent}});
  queries.push_back({&sql::kAccountStateById, Params{std::string(user_id)}});
  std::vector<Result> results = co_await primary_.pipeline(std::move(queries), ctx);
  services::UpdateResult out;
  out.status = decode_update_status(results.at(1));
  if (out.status != UpdateStatus::not_found) out.state = first_account(results.at(2));
  co_return out;
}

boost::asio::awaitable<services::CountryResult> PgUserStore::set_declared_country(
    const RequestContext& ctx, std::string_view user_id, const std::optional<std::string>& country,
    const services::EventStamp& event) {
  Result r = co_await primary_.query(sql::kSetDeclaredCountry,
                                     {std::string(user_id), country, us_param(event.occurred_at),
                                      event.event_id, event.traceparent},
                                     ctx);
  services::CountryResult out;
  if (r.int64(0, 0) == 0) co_return out;
  out.status = r.int64(0, 1) == 0 ? UpdateStatus::unchanged : UpdateStatus::changed;
  out.declared_country = country;
  out.updated_at = time_at(r, 0, 2);
  co_return out;
}

boost::asio::awaitable<services::DeleteResult> PgUserStore::soft_delete(
    const RequestContext& ctx, std::string_view user_id, std::string_view reason_code,
    const domain::Actor& actor, const services::EventStamp& event) {
  Result r = co_await primary_.query(
      sql::kSoftDelete,
      {std::string(user_id), us_param(event.occurred_at), std::string(reason_code), actor.type,
       actor.id, event.event_id, event.traceparent},
      ctx);
  services::DeleteResult out;
  if (r.int64(0, 0) == 0) co_return out;
  out.found = true;
  out.deleted_at = time_at(r, 0, 1);
  co_return out;
}

boost::asio::awaitable<std::pair<services::BlockedEmail, bool>> PgUserStore::block_email(
    const RequestContext& ctx, std::string_view email, std::string_view reason_code,
    const domain::Actor& actor, TimePoint now) {
  // The SELECT runs in a fresh snapshot after the INSERT, so it also sees a row that a
  // concurrent caller committed while our INSERT waited on it.
  std::vector<Query> queries;
  queries.push_back({&sql::kInsertBlockedEmail, Params{std::string(email), std::string(reason_code),
                                                       actor.type, actor.id, us_param(now)}});
  queries.push_back({&sql::kSelectBlockedEmail, Params{std::string(email)}});
  std::vector<Result> results = co_await primary_.pipeline(std::move(queries), ctx);
  const Result& row = results.at(1);
  if (row.rows() == 0) throw std::runtime_error("blocked email vanished right after its insert");
  services::BlockedEmail b{row.text(0, 0), row.text(0, 1), time_at(row, 0, 2)};
  co_return std::pair{std::move(b), results.at(0).rows() == 1};
}

boost::asio::awaitable<std::optional<services::BlockedEmail>> PgUserStore::blocked_email(
    const RequestContext& ctx, std::string_view email) {
  Result r = co_await lookup(sql::kSelectBlockedEmail, std::string(email), ctx);
  if (r.rows() == 0) co_return std::nullopt;
  co_return services::BlockedEmail{r.text(0, 0), r.text(0, 1), time_at(r, 0, 2)};
}

boost::asio::awaitable<bool> PgUserStore::unblock_email(const RequestContext& ctx,
                                                        std::string_view email) {
  Result r = co_await primary_.query(sql::kDeleteBlockedEmail, {std::string(email)}, ctx);
  co_return r.rows() == 1;
}

}  // namespace userservice::postgres
