#include "adapters/postgres/user_store.h"

#include "adapters/postgres/account_state.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "domain/error.h"

namespace userservice::postgres {

using domain::TimePoint;
using services::UpdateStatus;

// ---- Statements --------------------------------------------------------------------
// Timestamps cross the boundary as microseconds since the epoch ("user".epoch_us /
// "user".from_epoch_us, migrations/0001_init.sql). Event payloads are built in SQL where
// they need the row's previous values, so that the event and the change come from the
// same row version.
namespace sql {

// The account view in one row: account, entitlement snapshot, and the active sanctions
// and limits as JSON arrays (expiry is applied by domain::effective_state at read time).
inline constexpr auto kAccountStateByIdSql = concat(kAccountStateSelect, "WHERE a.user_id = $1");
inline constexpr auto kAccountStateByEmailSql = concat(kAccountStateSelect, "WHERE a.email = $1");
inline constexpr auto kAccountStateByUserNameSql =
    concat(kAccountStateSelect, "WHERE lower(a.user_name) = lower($1)");
inline constexpr auto kLiveAccountStatesSql =
    concat(kAccountStateSelect, "WHERE a.user_id = ANY($1::text[]) AND a.deleted_at IS NULL");

// The set forms of the hot one-key reads, for read coalescing (Statement::coalesced): one
// execution answers every queued caller of a kind; each caller gets the rows of its own key
// (the key column named last in each pair below). The keys come through unnest, not
// `= ANY($1)`: the pool pads the key array with NULLs so that PostgreSQL settles on the
// generic plan (pool.cpp, kMinSetElements), and only unnest counts the padding in the
// custom plans' estimates.
inline constexpr auto kAccountStatesByIdsSql =
    concat(kAccountStateSelect, "WHERE a.user_id IN (SELECT k FROM unnest($1::text[]) AS k)");
constexpr Statement kAccountStatesByIds{"account_states_by_ids", kAccountStatesByIdsSql.view()};

constexpr Statement kLiveAccountsExist{
    "live_accounts_exist",
    R"(SELECT EXISTS (SELECT 1 FROM "user".accounts a
                        WHERE a.user_id = i.user_id AND a.deleted_at IS NULL), i.user_id
         FROM unnest($1::text[]) AS i(user_id))"};

constexpr Statement kEmailFactsMany{
    "email_facts_many",
    R"(SELECT b.reason_code, a.user_id, a.deleted_at IS NOT NULL,
              ls.sanction_code IS NOT NULL, "user".epoch_us(ls.expires_at), i.email
         FROM unnest($1::text[]) AS i(email)
         LEFT JOIN "user".blocked_emails b ON b.email = i.email
         LEFT JOIN "user".accounts a ON a.email = i.email
         LEFT JOIN "user".sanction_active ls
                ON ls.user_id = a.user_id AND ls.sanction_code = 'login_block')"};

constexpr Statement kLiveAccountExists{
    "live_account_exists",
    R"(SELECT EXISTS (SELECT 1 FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL))",
    Access::read, false, &kLiveAccountsExist, 1};

// Also the account view's and eligibility's read (deleted accounts are filtered after it).
constexpr Statement kAccountStateById{"account_state_by_id", kAccountStateByIdSql.view(),
                                      Access::read, false, &kAccountStatesByIds, 0};
constexpr Statement kAccountStateByEmail{"account_state_by_email", kAccountStateByEmailSql.view()};
constexpr Statement kAccountStateByUserName{"account_state_by_user_name",
                                            kAccountStateByUserNameSql.view()};
constexpr Statement kLiveAccountStates{"live_account_states", kLiveAccountStatesSql.view()};

constexpr Statement kLiveProfiles{
    "live_profiles",
    R"(SELECT user_id, user_name, declared_country FROM "user".accounts
        WHERE user_id = ANY($1::text[]) AND deleted_at IS NULL)"};

// Everything resolution needs about an email (api.md §3), in one row.
constexpr Statement kEmailFacts{
    "email_facts",
    R"(SELECT b.reason_code, a.user_id, a.deleted_at IS NOT NULL,
              ls.sanction_code IS NOT NULL, "user".epoch_us(ls.expires_at)
         FROM (SELECT $1::text AS email) i
         LEFT JOIN "user".blocked_emails b ON b.email = i.email
         LEFT JOIN "user".accounts a ON a.email = i.email
         LEFT JOIN "user".sanction_active ls
                ON ls.user_id = a.user_id AND ls.sanction_code = 'login_block')",
    Access::read, false, &kEmailFactsMany, 5};

// Creates account + free snapshot + user.created unless the email is blocked or any
// unique key (email, user name, user id) is taken. ON CONFLICT DO NOTHING waits for a
// concurrent inserter of the same email and then does nothing, so exactly one of many
// concurrent calls creates the account; kEmailFacts, pipelined after it, runs in a fresh
// snapshot and sees the winner.
constexpr Statement kEnsureAccount{
    "ensure_account",
    R"(WITH ins AS (
         INSERT INTO "user".accounts (user_id, email, user_name, preferred_language, time_zone,
                                      created_at, updated_at)
         SELECT $2, $1, $3, $4, $5, "user".from_epoch_us($6), "user".from_epoch_us($6)
          WHERE NOT EXISTS (SELECT 1 FROM "user".blocked_emails WHERE email = $1)
         ON CONFLICT DO NOTHING
         RETURNING user_id, email, user_name, preferred_language, time_zone, created_at
       ), snap AS (
         INSERT INTO "user".entitlement_snapshots (user_id, plan_code, is_paid, starts_at, updated_at)
         SELECT user_id, 'free', false, created_at, created_at FROM ins
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $7, 'lifecycle', 'user.created', user_id, created_at,
                json_build_object('user_id', user_id, 'email', email, 'user_name', user_name,
                                  'preferred_language', preferred_language,
                                  'time_zone', time_zone,
                                  'created_at', "user".rfc3339(created_at))::text,
                NULLIF($8, '')
           FROM ins
       )
       SELECT user_id FROM ins)", Access::write};

// Self-service writes run after kLockLiveAccount (its own statement, pipelined first), so the
// profile_update_block check below sees a block committed while the patch waited for the
// row lock; concurrent changes of one user serialise there, so "previous" values and outbox
// order are those of commit order. (FOR UPDATE is repeated: the row is locked already, and it
// makes the CTE read the newest row version.)
constexpr Statement kUpdateUserName{
    "update_user_name",
    R"(WITH acc AS (
         SELECT user_id, user_name FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), denied AS (
         SELECT 1 FROM "user".sanction_active s JOIN acc USING (user_id)
          WHERE s.sanction_code = 'profile_update_block'
            AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($3))
       ), upd AS (
         UPDATE "user".accounts a SET user_name = $2, updated_at = "user".from_epoch_us($3)
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.user_name <> $2
            AND NOT EXISTS (SELECT 1 FROM denied)
         RETURNING a.user_id, acc.user_name AS previous
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $4, 'domain', 'user.profile.changed', user_id, "user".from_epoch_us($3),
                json_build_object('user_id', user_id, 'user_name', $2::text,
                                  'previous_user_name', previous)::text,
                NULLIF($5, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM denied), (SELECT count(*) FROM upd))", Access::write};

constexpr Statement kUpdateSettings{
    "update_settings",
    R"(WITH acc AS (
         SELECT user_id, preferred_language, time_zone FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), denied AS (
         SELECT 1 FROM "user".sanction_active s JOIN acc USING (user_id)
          WHERE s.sanction_code = 'profile_update_block'
            AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($4))
       ), upd AS (
         UPDATE "user".accounts a
            SET preferred_language = coalesce($2, acc.preferred_language),
                time_zone = coalesce($3, acc.time_zone),
                updated_at = "user".from_epoch_us($4)
           FROM acc
          WHERE a.user_id = acc.user_id
            AND (coalesce($2, acc.preferred_language) <> acc.preferred_language
                 OR coalesce($3, acc.time_zone) <> acc.time_zone)
            AND NOT EXISTS (SELECT 1 FROM denied)
         RETURNING a.user_id, a.preferred_language, a.time_zone,
                   acc.preferred_language AS previous_language, acc.time_zone AS previous_zone
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $5, 'domain', 'user.settings.changed', user_id, "user".from_epoch_us($4),
                json_build_object('user_id', user_id, 'preferred_language', preferred_language,
                                  'time_zone', time_zone,
                                  'previous_preferred_language', previous_language,
                                  'previous_time_zone', previous_zone)::text,
                NULLIF($6, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM denied), (SELECT count(*) FROM upd))", Access::write};

constexpr Statement kSetDeclaredCountry{
    "set_declared_country",
    R"(WITH acc AS (
         SELECT user_id, declared_country, updated_at FROM "user".accounts
          WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE
       ), upd AS (
         UPDATE "user".accounts a SET declared_country = $2, updated_at = "user".from_epoch_us($3)
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.declared_country IS DISTINCT FROM $2
         RETURNING a.user_id, a.updated_at, acc.declared_country AS previous
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $4, 'domain', 'user.declared_country.changed', user_id, updated_at,
                json_build_object('user_id', user_id, 'declared_country', $2::text,
                                  'previous_declared_country', previous)::text,
                NULLIF($5, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM upd),
              coalesce((SELECT "user".epoch_us(updated_at) FROM upd),
                       (SELECT "user".epoch_us(updated_at) FROM acc)))", Access::write};

// Idempotent: a deleted account keeps its first deleted_at and gets no second event.
constexpr Statement kSoftDelete{
    "soft_delete",
    R"(WITH acc AS (
         SELECT user_id, deleted_at FROM "user".accounts WHERE user_id = $1 FOR UPDATE
       ), upd AS (
         UPDATE "user".accounts a
            SET deleted_at = "user".from_epoch_us($2), updated_at = "user".from_epoch_us($2),
                deleted_reason_code = $3, deleted_actor_type = $4, deleted_actor_id = $5
           FROM acc
          WHERE a.user_id = acc.user_id AND acc.deleted_at IS NULL
         RETURNING a.user_id, a.deleted_at
       ), evt AS (
         INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at,
                                          payload, traceparent)
         SELECT $6, 'lifecycle', 'user.deleted', user_id, deleted_at,
                json_build_object('user_id', user_id, 'deleted_at', "user".rfc3339(deleted_at),
                                  'reason_code', $3::text,
                                  'actor', json_build_object('type', $4::text, 'id', $5::text))::text,
                NULLIF($7, '')
           FROM upd
       )
       SELECT (SELECT count(*) FROM acc),
              coalesce((SELECT "user".epoch_us(deleted_at) FROM upd),
                       (SELECT "user".epoch_us(deleted_at) FROM acc)))", Access::write};

constexpr Statement kInsertBlockedEmail{
    "insert_blocked_email",
    R"(INSERT INTO "user".blocked_emails (email, reason_code, actor_type, actor_id, blocked_at)
       VALUES ($1, $2, $3, $4, "user".from_epoch_us($5))
       ON CONFLICT (email) DO NOTHING
       RETURNING email)", Access::write};

constexpr Statement kSelectBlockedEmail{
    "select_blocked_email",
    R"(SELECT email, reason_code, "user".epoch_us(blocked_at) FROM "user".blocked_emails
        WHERE email = $1)"};

constexpr Statement kDeleteBlockedEmail{
    "delete_blocked_email", R"(DELETE FROM "user".blocked_emails WHERE email = $1 RETURNING 1)", Access::write};

}  // namespace sql

// ---- Decoding ----------------------------------------------------------------------
namespace {

services::EmailFacts decode_email_facts(const Result& r) {
  services::EmailFacts f;
  if (r.rows() == 0) return f;
  f.blocked_reason_code = opt_string_at(r, 0, 0);
  f.user_id = opt_string_at(r, 0, 1);
  f.deleted = r.get(0, 2) == "t";
  f.has_login_block = r.get(0, 3) == "t";
  f.login_block_expires_at = opt_time_at(r, 0, 4);
  return f;
}

// PostgreSQL array literal of well-formed ids ([A-Za-z0-9_-], so quoting is enough;
// quoted, so that an id spelled NULL stays a string).
std::string text_array(std::span<const std::string> ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += ids[i];
    out += '"';
  }
  out += '}';
  return out;
}

UpdateStatus decode_update_status(const Result& r) {
  if (r.get(0, 0) == "0") return UpdateStatus::not_found;
  if (r.get(0, 1) != "0") return UpdateStatus::policy_denied;
  return r.get(0, 2) == "0" ? UpdateStatus::unchanged : UpdateStatus::changed;
}

// The user-name uniqueness index is the only constraint a self-service write can hit.
[[noreturn]] void rethrow_translated(const SqlError& e) {
  if (e.sqlstate == "23505" && e.constraint == "accounts_user_name_key") {
    throw domain::Error(domain::ErrorCode::conflict, "user name is already taken");
  }
  throw;
}

}  // namespace

// ---- Methods -----------------------------------------------------------------------

boost::asio::awaitable<bool> PgUserStore::live_account_exists(const RequestContext& ctx,
                                                              std::string_view user_id) {
  Result r = co_await primary_.query(sql::kLiveAccountExists, {std::string(user_id)}, ctx);
  co_return r.rows() == 1 && r.get(0, 0) == "t";
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
    out.push_back({std::string(r.get(i, 0)), std::string(r.get(i, 1)), opt_string_at(r, i, 2)});
  }
  co_return out;
}

boost::asio::awaitable<services::UpdateResult> PgUserStore::update_user_name(
    const RequestContext& ctx, std::string_view user_id, std::string_view user_name,
    const services::EventStamp& event) {
  std::vector<Query> queries;
  queries.push_back({&kLockLiveAccount, Params{std::string(user_id)}});
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
  queries.push_back({&kLockLiveAccount, Params{std::string(user_id)}});
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
  Result r = co_await primary_.query(
      sql::kSetDeclaredCountry,
      {std::string(user_id), country, us_param(event.occurred_at), event.event_id, event.traceparent},
      ctx);
  services::CountryResult out;
  if (r.get(0, 0) == "0") co_return out;
  out.status = r.get(0, 1) == "0" ? UpdateStatus::unchanged : UpdateStatus::changed;
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
  if (r.get(0, 0) == "0") co_return out;
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
  services::BlockedEmail b{std::string(row.get(0, 0)), std::string(row.get(0, 1)), time_at(row, 0, 2)};
  co_return std::pair{std::move(b), results.at(0).rows() == 1};
}

boost::asio::awaitable<std::optional<services::BlockedEmail>> PgUserStore::blocked_email(
    const RequestContext& ctx, std::string_view email) {
  Result r = co_await lookup(sql::kSelectBlockedEmail, std::string(email), ctx);
  if (r.rows() == 0) co_return std::nullopt;
  co_return services::BlockedEmail{std::string(r.get(0, 0)), std::string(r.get(0, 1)),
                                   time_at(r, 0, 2)};
}

boost::asio::awaitable<bool> PgUserStore::unblock_email(const RequestContext& ctx,
                                                        std::string_view email) {
  Result r = co_await primary_.query(sql::kDeleteBlockedEmail, {std::string(email)}, ctx);
  co_return r.rows() == 1;
}

}  // namespace userservice::postgres

// ---- Tooling -----------------------------------------------------------------------
namespace userservice::postgres {

// For `userservice --print-statements` (statements.h): every statement of this file. A new
// statement above belongs in this list too.
std::vector<const Statement*> user_store_statements() {
  using namespace sql;
  return {
      &kLiveAccountExists,  &kAccountStateById,   &kAccountStateByEmail, &kAccountStateByUserName,
      &kLiveAccountStates,  &kLiveProfiles,       &kEmailFacts,          &kEnsureAccount,
      &kUpdateUserName,     &kUpdateSettings,     &kSetDeclaredCountry,  &kSoftDelete,
      &kInsertBlockedEmail, &kSelectBlockedEmail, &kDeleteBlockedEmail,
      // The set forms read coalescing runs instead of the statements above.
      &kLiveAccountsExist,  &kAccountStatesByIds, &kEmailFactsMany};
}

}  // namespace userservice::postgres
