#pragma once
// The admin listing of accounts (api.md §8 "Listing"): filters, keyset pages over
// (created_at DESC, user_id DESC) and opaque page tokens bound to the filter set.
//
// "Active", "paid" and "plan" mean effective at the moment of the query: an item whose end
// has passed no longer matches, whether or not the expiry sweeper has removed it yet (the
// same rule as domain::effective_state, applied in SQL by the store).
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/context.h"
#include "domain/account.h"

namespace userservice::services {

using NowFn = std::function<domain::TimePoint()>;

inline constexpr int kDefaultListingPageSize = 50;
inline constexpr int kMaxListingPageSize = 200;

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

struct ListingRequest {
  ListingFilter filter;
  int page_size = kDefaultListingPageSize;
  std::optional<std::string> page_token;  // absent: the newest page
};

// Builds a request from the query parameters, percent-decoded, in arrival order. Every
// parameter at most once; unknown names and malformed values throw
// domain::Error(invalid_request) naming the parameter. Timestamps are kept at microsecond
// precision (what the database stores).
ListingRequest parse_listing_query(std::span<const std::pair<std::string, std::string>> params);

// The canonical text of a filter set ("listing?plan_code=free&include_deleted=true"): the
// scope page tokens are sealed for, so a token only opens under the filters it was issued for.
std::string listing_scope(const ListingFilter& filter);

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

struct ListingPage {
  std::vector<domain::AccountState> items;  // effective state at the query's moment
  std::optional<std::string> next_page_token;
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

class ListingService {
 public:
  ListingService(ListingStore& store, NowFn now) : store_(store), now_(std::move(now)) {}

  // One page. A page_token that is not one this route issued for exactly these filters is
  // 400 invalid_request. next_page_token is null on the last page.
  boost::asio::awaitable<ListingPage> list(const RequestContext& ctx,
                                           const ListingRequest& request);

 private:
  ListingStore& store_;
  NowFn now_;
};

}  // namespace userservice::services
