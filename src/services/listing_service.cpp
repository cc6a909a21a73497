#include "services/listing_service.h"

#include <chrono>

#include "domain/error.h"
#include "domain/page_token.h"
#include "domain/policy.h"

namespace userservice::services {

using domain::invalid_request;
using domain::TimePoint;

namespace {

TimePoint to_us(TimePoint tp) { return std::chrono::floor<std::chrono::microseconds>(tp); }

std::int64_t epoch_us(TimePoint tp) {
  return std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
}

}  // namespace

std::string listing_scope(const ListingFilter& f) {
  // Fixed order, canonical values (times as epoch µs, so "+02:00" and "Z" spellings of one
  // instant are the same filter). Values are catalog codes, country codes and integers:
  // none contains '&' or '='.
  std::string s = "listing?";
  auto add = [&](std::string_view name, const std::string& value) {
    if (s.back() != '?') s += '&';
    s += name;
    s += '=';
    s += value;
  };
  if (f.plan_code) add("plan_code", *f.plan_code);
  if (f.is_paid) add("is_paid", *f.is_paid ? "true" : "false");
  if (f.paid_ends_before) add("paid_ends_before", std::to_string(epoch_us(*f.paid_ends_before)));
  if (f.declared_country) add("declared_country", *f.declared_country);
  if (f.sanction_code) add("sanction_code", *f.sanction_code);
  if (f.limit_code) add("limit_code", *f.limit_code);
  if (f.created_after) add("created_after", std::to_string(epoch_us(*f.created_after)));
  if (f.created_before) add("created_before", std::to_string(epoch_us(*f.created_before)));
  add("include_deleted", f.include_deleted ? "true" : "false");
  return s;
}

boost::asio::awaitable<ListingPage> ListingService::list(const RequestContext& ctx,
                                                         const ListingRequest& request) {
  // The HTTP adapter parsed and range-checked page_size; this only guards other callers.
  const int size = request.page_size;
  if (size < 1 || size > kMaxListingPageSize) {
    throw invalid_request("page_size must be an integer from 1 to 200");
  }
  const std::string scope = listing_scope(request.filter);
  std::optional<ListingCursor> after;
  std::optional<unsigned> lane;
  if (request.page_token) {
    domain::KeysetCursor c = domain::decode_keyset_cursor(scope, *request.page_token);
    after =
        ListingCursor{TimePoint(std::chrono::microseconds(c.created_at_us)), std::move(c.user_id)};
    lane = c.lane;
  }
  // One moment for the whole page, at the database's precision: the rows the filters match
  // in SQL and the effective state shown for them are judged at the same instant.
  const TimePoint now = to_us(now_());
  ListingSlice slice =
      co_await store_.list_accounts(ctx, request.filter, after, lane, now, size + 1);
  std::vector<domain::AccountState>& rows = slice.rows;
  ListingPage page;
  if (rows.size() > static_cast<std::size_t>(size)) {
    rows.resize(size);
    const auto& last = rows.back().account;
    page.next_page_token = domain::encode_keyset_cursor(
        scope, domain::KeysetCursor{epoch_us(last.created_at), last.user_id,
                                    static_cast<std::uint8_t>(slice.lane & 0xff)});
  }
  page.items.reserve(rows.size());
  for (auto& s : rows) page.items.push_back(domain::effective_state(std::move(s), now));
  co_return page;
}

}  // namespace userservice::services
