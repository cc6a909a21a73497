#include "adapters/postgres/command_store.h"

#include <limits>

#include "adapters/postgres/account_state.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "domain/commands.h"

namespace userservice::postgres {

using domain::TimePoint;
using services::CommandOutcome;
using services::CommandResult;
using services::ExpiryKind;

// Statements: src/adapters/postgres/sql/command_store/*.sql, as sql::k<Name>
// ("sql_statements.h"); the expiry and command statements are composed of the fragments in
// sql/command_store/fragments/.

// ---- Parameters and decoding ------------------------------------------------------------
namespace {

Param opt_us(const std::optional<TimePoint>& tp) {
  if (!tp) return std::nullopt;
  return us_param(*tp);
}

// $1..$6 of the expiry statements.
Params expiry_params(TimePoint now, const std::vector<std::string>& event_ids,
                     std::string subject) {
  return Params{us_param(now),
                text_array(event_ids),
                std::move(subject),
                std::string(domain::kExpiryReasonCode),
                std::string(domain::kExpiryActorType),
                std::string(domain::kExpiryActorId)};
}

// $1..$8 of the command statements.
Params command_params(std::string_view user_id, std::string_view kind,
                      const services::CommandMeta& meta, const services::CommandEvents& events) {
  return Params{std::string(user_id),  us_param(events.event.occurred_at),
                std::string(kind),     meta.reason_code,
                meta.actor.type,       meta.actor.id,
                events.event.event_id, events.event.traceparent};
}

std::optional<domain::Entitlement> decode_prior_entitlement(const Result& r) {
  if (r.rows() == 0 || r.columns() < 6 || r.is_null(0, 2)) return std::nullopt;
  return domain::Entitlement{r.text(0, 2), r.boolean(0, 3), time_at(r, 0, 4), opt_time_at(r, 0, 5)};
}

services::RecordInfo decode_record_info(const Result& r, int row) {
  return services::RecordInfo{r.int64(row, 0), r.text(row, 1), r.text(row, 2),
                              domain::Actor{r.text(row, 3), r.text(row, 4)}, time_at(r, row, 5)};
}

// ---- Commands ----------------------------------------------------------------------------

// The four statements of a command (see the header), one round trip.
// Arguments are named locals of the caller: g++ 12 mishandles some temporaries (braced
// initialisers in particular) inside co_await expressions.
boost::asio::awaitable<CommandResult> run_command(Pool& pool, const RequestContext& ctx,
                                                  std::string_view user_id, const Query& expire,
                                                  const Query& command) {
  std::vector<Query> queries;
  queries.push_back({&sql::kLockLiveAccount, Params{std::string(user_id)}});
  queries.push_back(expire);
  queries.push_back(command);
  queries.push_back({&sql::kCommandAccountState, Params{std::string(user_id)}});
  std::vector<Result> results = co_await pool.pipeline(std::move(queries), ctx);
  CommandResult out;
  const Result& cmd = results.at(2);
  if (results.at(0).rows() == 0 || cmd.rows() == 0 || cmd.int64(0, 0) == 0) co_return out;
  out.outcome = cmd.int64(0, 1) == 0 ? CommandOutcome::conflict : CommandOutcome::applied;
  out.prior_entitlement = decode_prior_entitlement(cmd);
  out.state = first_account(results.at(3));
  if (!out.state) throw std::runtime_error("account vanished while its row lock was held");
  co_return out;
}

Query expire_entitlement_query(const services::CommandEvents& events, std::string_view user_id) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(domain::kFreePlan));
  return {&sql::kExpireEntitlementForUser, std::move(p)};
}

Query expire_sanction_query(const services::CommandEvents& events, std::string_view user_id,
                            std::string_view code) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(domain::kLoginBlock));
  p.push_back(std::string(code));
  return {&sql::kExpireSanctionForUser, std::move(p)};
}

Query expire_limit_query(const services::CommandEvents& events, std::string_view user_id,
                         std::string_view code) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(code));
  return {&sql::kExpireLimitForUser, std::move(p)};
}

Param lifecycle_id(const services::CommandEvents& events) {
  if (events.lifecycle_event_id.empty()) return std::nullopt;
  return events.lifecycle_event_id;
}

}  // namespace

boost::asio::awaitable<CommandResult> PgCommandStore::grant_entitlement(
    const RequestContext& ctx, std::string_view user_id, const domain::Entitlement& e,
    std::string_view source, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "grant", meta, events);
  p.push_back(e.plan_code);
  p.push_back(std::string(e.is_paid ? "true" : "false"));
  p.push_back(us_param(e.starts_at));
  p.push_back(opt_us(e.ends_at));
  p.push_back(std::string(source));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kGrantEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::extend_entitlement(
    const RequestContext& ctx, std::string_view user_id, TimePoint ends_at, std::string_view source,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "extend", meta, events);
  p.push_back(us_param(ends_at));
  p.push_back(std::string(source));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kExtendEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::revoke_entitlement(
    const RequestContext& ctx, std::string_view user_id, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "revoke", meta, events);
  p.push_back(std::string(domain::kFreePlan));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kRevokeEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::apply_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    std::optional<TimePoint> expires_at, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "apply", meta, events);
  p.push_back(std::string(code));
  p.push_back(lifecycle_id(events));
  p.push_back(opt_us(expires_at));
  const Query expire = expire_sanction_query(events, user_id, code);
  const Query command{&sql::kApplySanction, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::remove_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "remove", meta, events);
  p.push_back(std::string(code));
  p.push_back(lifecycle_id(events));
  const Query expire = expire_sanction_query(events, user_id, code);
  const Query command{&sql::kRemoveSanction, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::set_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code, std::int64_t value,
    std::optional<TimePoint> expires_at, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "set", meta, events);
  p.push_back(std::string(code));
  p.push_back(std::to_string(value));
  p.push_back(opt_us(expires_at));
  const Query expire = expire_limit_query(events, user_id, code);
  const Query command{&sql::kSetLimit, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::remove_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "remove", meta, events);
  p.push_back(std::string(code));
  const Query expire = expire_limit_query(events, user_id, code);
  const Query command{&sql::kRemoveLimit, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

// ---- History ----------------------------------------------------------------------------

namespace {

// Whether the account exists (soft-deleted included) and the page, in one round trip.
// A first page (no cursor yet) may come from a replica; a later one comes from the primary:
// a replica further behind than the page before could miss records older than its cursor.
boost::asio::awaitable<std::optional<Result>> history_page(Pool& pool, ReadSources* replicas,
                                                           const RequestContext& ctx,
                                                           const Statement& statement,
                                                           std::string_view user_id,
                                                           std::int64_t before, int limit) {
  std::vector<Query> queries;
  queries.push_back({&sql::kHistoryAccountKnown, Params{std::string(user_id)}});
  queries.push_back(
      {&statement, Params{std::string(user_id), std::to_string(before), std::to_string(limit)}});
  const bool first_page = before == std::numeric_limits<std::int64_t>::max();
  std::vector<Result> results;  // (no co_await inside ?: — g++ 12 miscompiles it)
  if (replicas != nullptr && first_page) {
    results = co_await replicas->pipeline(std::move(queries), ctx);
  } else {
    results = co_await pool.pipeline(std::move(queries), ctx);
  }
  if (results.at(0).rows() == 0 || !results.at(0).boolean(0, 0)) co_return std::nullopt;
  co_return std::move(results.at(1));
}

}  // namespace

boost::asio::awaitable<services::HistorySlice<services::EntitlementRecord>>
PgCommandStore::entitlement_history(const RequestContext& ctx, std::string_view user_id,
                                    std::int64_t before, int limit) {
  auto r = co_await history_page(primary_, history_, ctx, sql::kEntitlementHistory, user_id, before,
                                 limit);
  if (!r) co_return std::nullopt;
  std::vector<services::EntitlementRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({decode_record_info(*r, i),
                   domain::Entitlement{r->text(i, 6), r->boolean(i, 7), time_at(*r, i, 8),
                                       opt_time_at(*r, i, 9)},
                   r->opt_text(i, 10)});
  }
  co_return out;
}

boost::asio::awaitable<services::HistorySlice<services::SanctionRecord>>
PgCommandStore::sanction_history(const RequestContext& ctx, std::string_view user_id,
                                 std::int64_t before, int limit) {
  auto r =
      co_await history_page(primary_, history_, ctx, sql::kSanctionHistory, user_id, before, limit);
  if (!r) co_return std::nullopt;
  std::vector<services::SanctionRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({decode_record_info(*r, i), r->text(i, 6), opt_time_at(*r, i, 7)});
  }
  co_return out;
}

boost::asio::awaitable<services::HistorySlice<services::LimitRecord>> PgCommandStore::limit_history(
    const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) {
  auto r =
      co_await history_page(primary_, history_, ctx, sql::kLimitHistory, user_id, before, limit);
  if (!r) co_return std::nullopt;
  std::vector<services::LimitRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back(
        {decode_record_info(*r, i), r->text(i, 6), r->opt_int64(i, 7), opt_time_at(*r, i, 8)});
  }
  co_return out;
}

// ---- Sweeper ----------------------------------------------------------------------------

boost::asio::awaitable<int> PgCommandStore::expire_due(const RequestContext& ctx, ExpiryKind kind,
                                                       TimePoint now, int batch,
                                                       const std::vector<std::string>& event_ids) {
  Params p = expiry_params(now, event_ids, std::to_string(batch));
  const Statement* statement = nullptr;
  switch (kind) {
    case ExpiryKind::entitlements:
      statement = &sql::kSweepEntitlements;
      p.push_back(std::string(domain::kFreePlan));
      break;
    case ExpiryKind::sanctions:
      statement = &sql::kSweepSanctions;
      p.push_back(std::string(domain::kLoginBlock));
      break;
    case ExpiryKind::limits:
      statement = &sql::kSweepLimits;
      break;
  }
  Result r = co_await primary_.query(*statement, std::move(p), ctx);
  co_return r.rows() == 1 ? static_cast<int>(r.int64(0, 0)) : 0;
}

}  // namespace userservice::postgres
