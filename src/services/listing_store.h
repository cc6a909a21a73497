#pragma once
// The store behind the admin listing (api.md §8 "Listing"): validated filters, the keyset
// position a page starts after, and the rows of one page with the source that served them.
//
// "Active", "paid" and "plan" mean effective at the moment of the query: an item whose end
// has passed no longer matches, whether or not the expiry sweeper has removed it yet (the
// same rule as domain::effective_state, applied in SQL by the store).
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/context.h"
#include "domain/account.h"

namespace userservice::services {

// Validated filters, AND-combined. Absent = no condition.
struct ListingFilter {
  std::optional<std::string> plan_code;               // effective plan (a catalog code)
  std::optional<bool> is_paid;                        // effective paid state
  std::optional<domain::TimePoint> paid_ends_before;  // effective paid, ends_at < this
  std::optional<std::string> declared_country;        // assigned ISO 3166-1 alpha-2
  std::optional<std::string> sanction_code;           // an active sanction with this code
  std::optional<std::string> limit_code;              // an active limit override with this code
  std::optional<domain::TimePoint> created_after;     // created_at > this (exclusive)
  std::optional<domain::TimePoint> created_before;    // created_at < this (exclusive)
  bool include_deleted = false;                       // soft-deleted accounts too

  friend bool operator==(const ListingFilter&, const ListingFilter&) = default;
};

// The keyset position after which a page starts.
struct ListingCursor {
  domain::TimePoint created_at;
  std::string user_id;
};

// Rows of one page and the read source ("lane") that served them. The page token carries
// the lane, so every page of one walk is read from the same source.
struct ListingSlice {
  std::vector<domain::AccountState> rows;
  unsigned lane = 0;
};

class ListingStore {
 public:
  virtual ~ListingStore() = default;

  // Up to `limit` accounts matching `filter` as effective at `now`, ordered by
  // (created_at DESC, user_id DESC), strictly after `after` when given; stored (not yet
  // effective) state; one round trip. `lane`: the source of the walk's earlier pages
  // (nullopt on a first page: the store picks one).
  virtual boost::asio::awaitable<ListingSlice> list_accounts(
      const RequestContext& ctx, const ListingFilter& filter,
      const std::optional<ListingCursor>& after, std::optional<unsigned> lane,
      domain::TimePoint now, int limit) = 0;
};

}  // namespace userservice::services
