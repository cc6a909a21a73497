#pragma once
// The admin listing of accounts (api.md §8 "Listing"): filters, keyset pages over
// (created_at DESC, user_id DESC) and opaque page tokens bound to the filter set. The query
// string is parsed into a ListingRequest by the HTTP adapter (adapters/http/listing_query.h);
// the rows come from a ListingStore (services/listing_store.h).
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/context.h"
#include "domain/account.h"
#include "services/listing_store.h"

namespace userservice::services {

using NowFn = std::function<domain::TimePoint()>;

inline constexpr int kDefaultListingPageSize = 50;
inline constexpr int kMaxListingPageSize = 200;

struct ListingRequest {
  ListingFilter filter;
  int page_size = kDefaultListingPageSize;  // 1..kMaxListingPageSize
  std::optional<std::string> page_token;    // absent: the newest page
};

// The canonical text of a filter set ("listing?plan_code=free&include_deleted=true"): the
// scope page tokens are sealed for, so a token only opens under the filters it was issued for.
std::string listing_scope(const ListingFilter& filter);

struct ListingPage {
  std::vector<domain::AccountState> items;  // effective state at the query's moment
  std::optional<std::string> next_page_token;
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
