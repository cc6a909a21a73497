#pragma once
// services::ListingStore on PostgreSQL: the admin listing (api.md §8), one round trip per page.
#include <cstddef>
#include <string>
#include <vector>

#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "services/listing_store.h"

namespace userservice::postgres {

// The listing SQL is generated per filter shape — which filters are present, plus the two
// value-dependent variants (plan_code=free, is_paid=true/false) — rather than one statement
// with optional conditions ("$2 IS NULL OR ..."), so that each condition is a plain
// sargable predicate the planner can match to an index. A shape is a bit set:
namespace listing_shape {
inline constexpr unsigned kIncludeDeleted = 1u << 0;
inline constexpr unsigned kAfter = 1u << 1;  // a keyset position (not the first page)
inline constexpr unsigned kCreatedAfter = 1u << 2;
inline constexpr unsigned kCreatedBefore = 1u << 3;
inline constexpr unsigned kCountry = 1u << 4;
inline constexpr unsigned kPlan = 1u << 5;
inline constexpr unsigned kPlanFree = 1u << 6;  // with kPlan: the plan a lapsed one becomes
inline constexpr unsigned kIsPaid = 1u << 7;
inline constexpr unsigned kIsPaidTrue = 1u << 8;  // with kIsPaid
inline constexpr unsigned kPaidEndsBefore = 1u << 9;
inline constexpr unsigned kSanction = 1u << 10;
inline constexpr unsigned kLimit = 1u << 11;
inline constexpr unsigned kAll = (1u << 12) - 1;
}  // namespace listing_shape

// Parameters of a generated statement, in $-number order.
enum class ListingParam {
  now,  // epoch µs of the query's moment (effective-state conditions)
  after_created_at,
  after_user_id,
  created_after,
  created_before,
  country,
  plan,
  paid_ends_before,
  sanction,
  limit_code,
  limit,  // rows to return
};

struct ListingStatement {
  unsigned shape = 0;
  std::string name;  // "admin_list_users_<shape as 3 hex digits>"
  std::string sql;
  std::vector<ListingParam> params;
  Statement statement;  // views name and sql above: entries never move
};

unsigned listing_shape_of(const services::ListingFilter& filter, bool has_cursor);
// The statement of a shape, generated on first use and kept for the process's life.
// Throws std::invalid_argument for a bit set no filter produces.
const ListingStatement& listing_statement(unsigned shape);

// Pipelined before each listing statement: sql::kAdminListUsersSettings
// (sql/listing_store/admin_list_users_settings.sql says why).

class PgListingStore final : public services::ListingStore {
 public:
  // `sources`: the replicas and the primary (at most 255 replicas: a lane is one byte of the
  // page token). A walk's first page takes the next usable replica, its later pages stay on
  // that source while it is usable and move to the primary when it is not. Outlives the store.
  // `use_replicas` false: every page from the primary (USERSERVICE_POSTGRES_REPLICA_READS
  // without `listing`).
  explicit PgListingStore(ReadSources& sources, bool use_replicas = true);

  boost::asio::awaitable<services::ListingSlice> list_accounts(
      const RequestContext& ctx, const services::ListingFilter& filter,
      const std::optional<services::ListingCursor>& after, std::optional<unsigned> lane,
      domain::TimePoint now, int limit) override;

 private:
  ReadSources& sources_;
  bool use_replicas_;
};

}  // namespace userservice::postgres
