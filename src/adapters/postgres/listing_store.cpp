#include "adapters/postgres/listing_store.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "adapters/postgres/account_state.h"
#include "domain/catalog.h"
#include "domain/error.h"
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/

namespace userservice::postgres {

namespace shape = listing_shape;

namespace {

// ---- SQL generation -------------------------------------------------------------------------
// Two steps in one statement. `page` finds the page's keys: filters and keyset position,
// newest first, LIMIT. It walks one index in keyset order and stops after `limit` matches:
// the accounts' (created_at) or (declared_country, created_at) index, or, when a sanction /
// limit / paid-plan / paid filter is present, that table's index on its copy of the
// account's created_at (migrations/0004), joining accounts by primary key for the other
// filters. The outer SELECT is the shared account-state SELECT (account_state.h) for just
// those rows: the account, its snapshot and its sanctions and limits, no N+1.
//
// Effective state in SQL, as domain::effective_state has it: an item is active while its end
// is NULL or after $now; a lapsed entitlement reads as the free plan, not paid.
// Indexes (migrations/0002_admin_listing.sql, 0004_listing_denormalized.sql): accounts
// (created_at DESC, user_id DESC) and (declared_country, created_at DESC, user_id DESC), both
// INCLUDE (deleted_at); sanction_active / limit_active (code, account_created_at DESC,
// user_id DESC) INCLUDE (expires_at); entitlement_snapshots (plan_code, account_created_at
// DESC, user_id DESC) WHERE not free and (account_created_at DESC, user_id DESC) WHERE paid,
// both INCLUDE (ends_at); the primary keys for the per-account probes.

namespace frag = sql::fragments;

// A fragment of sql/listing_store/fragments/ with its `{name}` placeholders filled in.
std::string fill(std::string_view tmpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> values) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  std::size_t at = 0;
  while (at < tmpl.size()) {
    const std::size_t open = tmpl.find('{', at);
    if (open == std::string_view::npos) break;
    const std::size_t close = tmpl.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(tmpl.substr(at, open - at));
    const std::string_view key = tmpl.substr(open + 1, close - open - 1);
    const auto it =
        std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == key; });
    if (it == values.end()) {
      throw std::logic_error("listing fragment placeholder {" + std::string(key) + "} unset");
    }
    out.append(it->second);
    at = close + 1;
  }
  out.append(tmpl.substr(at));
  return out;
}

class Builder {
 public:
  // "$n" of a parameter, numbered on first use.
  std::string operator()(ListingParam p) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i] == p) return "$" + std::to_string(i + 1);
    }
    params.push_back(p);
    return "$" + std::to_string(params.size());
  }
  std::string time(ListingParam p) {
    const std::string n = (*this)(p);
    return fill(frag::kListingTimeParam, {{"param", n}});
  }

  std::vector<ListingParam> params;
};
// Parameters are numbered in the order build() asks for them below; that order is part of
// every shape's text (bench/listing/sql/ holds copies), so keep it when editing.

bool valid_shape(unsigned s) {
  if (s & ~shape::kAll) return false;
  if ((s & shape::kPlanFree) && !(s & shape::kPlan)) return false;
  if ((s & shape::kIsPaidTrue) && !(s & shape::kIsPaid)) return false;
  return true;
}

std::string statement_name(unsigned s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "admin_list_users_";
  name += kHex[(s >> 8) & 0xf];
  name += kHex[(s >> 4) & 0xf];
  name += kHex[s & 0xf];
  return name;
}

// The table whose index drives the page's keyset walk: the most selective filter that has a
// (code, account_created_at DESC, user_id DESC) index (migrations/0004): sanctions (~0.1-1%
// each) before limits before paid plans before all paid snapshots. Without one of them the
// accounts indexes drive it.
enum class Driver { accounts, sanction, limit, plan, paid };

Driver driver_of(unsigned s) {
  if (s & shape::kSanction) return Driver::sanction;
  if (s & shape::kLimit) return Driver::limit;
  // The free filter also matches lapsed paid plans: no plan index holds all of those.
  if ((s & shape::kPlan) && !(s & shape::kPlanFree)) return Driver::plan;
  if ((s & shape::kIsPaid) && (s & shape::kIsPaidTrue)) return Driver::paid;
  if (s & shape::kPaidEndsBefore) return Driver::paid;
  return Driver::accounts;
}

std::unique_ptr<ListingStatement> build(unsigned s) {
  Builder p;
  std::vector<std::string> where;
  const bool entitlement = (s & (shape::kPlan | shape::kIsPaid | shape::kPaidEndsBefore)) != 0;
  const Driver driver = driver_of(s);
  // The driver's copy of accounts.created_at (equal by the 0004 trigger) carries the keyset
  // bound, the created range and the order, so that they are bounds of its index.
  std::string d;  // alias of the driving table
  switch (driver) {
    case Driver::accounts:
      d = "a";
      break;
    case Driver::sanction:
      d = "s";
      break;
    case Driver::limit:
      d = "l";
      break;
    case Driver::plan:
    case Driver::paid:
      d = "e";
      break;
  }
  const std::string created = driver == Driver::accounts
                                  ? std::string(frag::kListingCreatedOfAccounts)
                                  : fill(frag::kListingCreatedOfDriver, {{"d", d}});
  if (!(s & shape::kIncludeDeleted)) where.emplace_back(frag::kListingNotDeleted);
  if (s & shape::kAfter) {
    // A row comparison matches the (created_at DESC, user_id DESC) indexes as one bound.
    const std::string t = p.time(ListingParam::after_created_at);
    const std::string u = p(ListingParam::after_user_id);
    where.push_back(
        fill(frag::kListingAfter,
             {{"created", created}, {"d", d}, {"after_created_at", t}, {"after_user_id", u}}));
  }
  if (s & shape::kCreatedAfter) {
    const std::string t = p.time(ListingParam::created_after);
    where.push_back(fill(frag::kListingCreatedAfter, {{"created", created}, {"created_after", t}}));
  }
  if (s & shape::kCreatedBefore) {
    const std::string t = p.time(ListingParam::created_before);
    where.push_back(
        fill(frag::kListingCreatedBefore, {{"created", created}, {"created_before", t}}));
  }
  if (s & shape::kCountry) {
    const std::string c = p(ListingParam::country);
    where.push_back(fill(frag::kListingCountry, {{"country", c}}));
  }
  if (s & shape::kPlan) {
    // The effective plan: the stored one while active; a lapsed one reads as free.
    const std::string now = p.time(ListingParam::now);
    const std::string plan = p(ListingParam::plan);
    const std::string active = fill(frag::kListingPlanActive, {{"plan", plan}, {"now", now}});
    if (s & shape::kPlanFree) {
      where.push_back(fill(frag::kListingPlanOrLapsed, {{"active", active}, {"now", now}}));
    } else {
      where.push_back(active);
    }
  }
  if (s & shape::kIsPaid) {
    const std::string now = p.time(ListingParam::now);
    where.push_back(fill((s & shape::kIsPaidTrue) ? frag::kListingPaid : frag::kListingNotPaid,
                         {{"now", now}}));
  }
  if (s & shape::kPaidEndsBefore) {
    const std::string before = p.time(ListingParam::paid_ends_before);
    const std::string now = p.time(ListingParam::now);
    where.push_back(
        fill(frag::kListingPaidEndsBefore, {{"now", now}, {"paid_ends_before", before}}));
  }
  if (s & shape::kSanction) {
    const std::string now = p.time(ListingParam::now);
    const std::string code = p(ListingParam::sanction);
    const std::string cond = fill(frag::kListingSanction, {{"sanction", code}, {"now", now}});
    where.push_back(
        driver == Driver::sanction ? cond : fill(frag::kListingSanctionExists, {{"cond", cond}}));
  }
  if (s & shape::kLimit) {
    const std::string now = p.time(ListingParam::now);
    const std::string code = p(ListingParam::limit_code);
    const std::string cond = fill(frag::kListingLimit, {{"limit_code", code}, {"now", now}});
    where.push_back(driver == Driver::limit ? cond
                                            : fill(frag::kListingLimitExists, {{"cond", cond}}));
  }

  // The driver first, then accounts by primary key (one row per (user_id, code) and per
  // user in the current tables: a join, not a semi-join, keeps each account once).
  // (The layout, indentation and line breaks, is all the C++ adds to the fragments.)
  std::string sql = fill(frag::kListingPageHead, {{"d", d}});
  sql += '\n';
  const auto line = [&sql](std::string_view text) {
    sql += "    ";
    sql += text;
    sql += '\n';
  };
  switch (driver) {
    case Driver::accounts:
      line(frag::kListingFromAccounts);
      if (entitlement) line(fill(frag::kListingJoinEntitlement, {{"d", d}}));
      break;
    case Driver::sanction:
    case Driver::limit:
      line(driver == Driver::sanction ? frag::kListingFromSanctions : frag::kListingFromLimits);
      if (entitlement) line(fill(frag::kListingJoinEntitlement, {{"d", d}}));
      break;
    case Driver::plan:
    case Driver::paid:
      line(frag::kListingFromEntitlements);
      break;
  }
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += i == 0 ? "   " : "     ";
    sql += fill(i == 0 ? frag::kListingWhere : frag::kListingAnd, {{"cond", where[i]}});
    sql += '\n';
  }
  const std::string limit = p(ListingParam::limit);
  sql += "   ";
  sql += fill(frag::kListingPageTail, {{"created", created}, {"d", d}, {"limit", limit}});
  sql += '\n';
  sql += frag::kAccountStateSelect;
  // (The space: the text stays byte for byte what bench/listing/sql/ holds.)
  sql += " \n  ";
  sql += frag::kListingJoinPage;

  auto out = std::make_unique<ListingStatement>();
  out->shape = s;
  out->name = statement_name(s);
  out->sql = std::move(sql);
  out->params = std::move(p.params);
  // One-shot: a few thousand shapes exist, and each execution is planned for its values
  // anyway (custom plans), so preparing them per connection would only pile up server memory.
  out->statement = Statement{out->name, out->sql, Access::read, true};
  return out;
}

}  // namespace

unsigned listing_shape_of(const services::ListingFilter& f, bool has_cursor) {
  unsigned s = 0;
  if (f.include_deleted) s |= shape::kIncludeDeleted;
  if (has_cursor) s |= shape::kAfter;
  if (f.created_after) s |= shape::kCreatedAfter;
  if (f.created_before) s |= shape::kCreatedBefore;
  if (f.declared_country) s |= shape::kCountry;
  if (f.plan_code) {
    s |= shape::kPlan;
    if (*f.plan_code == domain::kFreePlan) s |= shape::kPlanFree;
  }
  if (f.is_paid) {
    s |= shape::kIsPaid;
    if (*f.is_paid) s |= shape::kIsPaidTrue;
  }
  if (f.paid_ends_before) s |= shape::kPaidEndsBefore;
  if (f.sanction_code) s |= shape::kSanction;
  if (f.limit_code) s |= shape::kLimit;
  return s;
}

const ListingStatement& listing_statement(unsigned s) {
  if (!valid_shape(s)) throw std::invalid_argument("invalid listing shape " + std::to_string(s));
  // Generated lazily (a few thousand shapes exist, a handful are used) and never freed: the
  // pool's Statement views the strings. The lock is for tests that call this off the event
  // loop; on the request path it is uncontended.
  static std::mutex mu;
  static std::array<std::unique_ptr<ListingStatement>, shape::kAll + 1> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[s];
  if (!slot) slot = build(s);
  return *slot;
}

PgListingStore::PgListingStore(ReadSources& sources, bool use_replicas)
    : sources_(sources), use_replicas_(use_replicas) {
  if (sources_.lanes() > 256) throw std::invalid_argument("PgListingStore: at most 255 replicas");
}

boost::asio::awaitable<services::ListingSlice> PgListingStore::list_accounts(
    const RequestContext& ctx, const services::ListingFilter& f,
    const std::optional<services::ListingCursor>& after, std::optional<unsigned> lane,
    domain::TimePoint now, int limit) {
  const ListingStatement& st = listing_statement(listing_shape_of(f, after.has_value()));
  Params params;
  for (ListingParam p : st.params) {
    switch (p) {
      case ListingParam::now:
        params.push_back(us_param(now));
        break;
      case ListingParam::after_created_at:
        params.push_back(us_param(after->created_at));
        break;
      case ListingParam::after_user_id:
        params.push_back(after->user_id);
        break;
      case ListingParam::created_after:
        params.push_back(us_param(*f.created_after));
        break;
      case ListingParam::created_before:
        params.push_back(us_param(*f.created_before));
        break;
      case ListingParam::country:
        params.push_back(*f.declared_country);
        break;
      case ListingParam::plan:
        params.push_back(*f.plan_code);
        break;
      case ListingParam::paid_ends_before:
        params.push_back(us_param(*f.paid_ends_before));
        break;
      case ListingParam::sanction:
        params.push_back(*f.sanction_code);
        break;
      case ListingParam::limit_code:
        params.push_back(*f.limit_code);
        break;
      case ListingParam::limit:
        params.push_back(std::to_string(limit));
        break;
    }
  }
  // A walk stays on one source while it can: a replica's view only moves forward, so an
  // account it held when the walk began is never skipped. When that source is gone (or
  // lags), the walk continues on the primary, which holds every row any replica showed; the
  // keyset position (created_at, user_id) means the next page starts right after the last row
  // served, wherever it is read. A replica that fails the query is taken out and the same
  // page is read from the primary, within the request's deadline.
  services::ListingSlice out;
  out.lane = !use_replicas_ ? sources_.primary_lane()
             : lane         ? sources_.resume(*lane)
                            : sources_.pick();
  std::vector<Query> queries;
  queries.push_back({&sql::kAdminListUsersSettings, Params{}});
  queries.push_back({&st.statement, params});
  std::vector<Result> results = co_await sources_.pipeline_on(out.lane, std::move(queries), ctx);
  const Result& r = results.at(1);
  out.rows.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.rows.push_back(decode_account_state(r, i));
  co_return out;
}

}  // namespace userservice::postgres
