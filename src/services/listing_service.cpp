#include "services/listing.h"

#include <charconv>
#include <chrono>

#include "domain/catalog.h"
#include "domain/error.h"
#include "domain/locale.h"
#include "domain/page_token.h"
#include "domain/policy.h"
#include "domain/time.h"

namespace userservice::services {

using domain::invalid_request;
using domain::TimePoint;

namespace {

TimePoint to_us(TimePoint tp) { return std::chrono::floor<std::chrono::microseconds>(tp); }

std::int64_t epoch_us(TimePoint tp) {
  return std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
}

int parse_page_size(const std::string& value) {
  int n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  // Plain decimal digits only: no sign, no spaces, no exponent, no leading "+".
  if (value.empty() || value.size() > 9 || value[0] == '-' || ec != std::errc() ||
      p != value.data() + value.size() || n < 1 || n > kMaxListingPageSize) {
    throw invalid_request("page_size must be an integer from 1 to 200");
  }
  return n;
}

// Exactly "true" or "false": a caller's "1" or "yes" is more likely a mistake than a wish.
bool parse_bool(const std::string& value, std::string_view name) {
  if (value == "true") return true;
  if (value == "false") return false;
  throw invalid_request(std::string(name) + " must be true or false");
}

TimePoint parse_time(const std::string& value, std::string_view name) {
  return to_us(domain::require_rfc3339(value, name));
}

// Every code in a message comes from the catalog or the caller; the caller's text is echoed
// only when short, so that a message never carries a long input.
std::string with_value(std::string prefix, const std::string& value) {
  if (value.empty() || value.size() > 64) return prefix;
  return prefix + " " + value;
}

}  // namespace

ListingRequest parse_listing_query(std::span<const std::pair<std::string, std::string>> params) {
  ListingRequest req;
  ListingFilter& f = req.filter;
  bool seen_size = false;
  bool seen_deleted = false;
  auto once = [](bool present, const std::string& name) {
    if (present) throw invalid_request(name + " given more than once");
  };
  for (const auto& [name, value] : params) {
    if (name == "page_size") {
      once(seen_size, name);
      seen_size = true;
      req.page_size = parse_page_size(value);
    } else if (name == "page_token") {
      once(req.page_token.has_value(), name);
      if (value.empty()) throw invalid_request("page_token is invalid");
      req.page_token = value;
    } else if (name == "plan_code") {
      once(f.plan_code.has_value(), name);
      if (domain::find_plan(value) == nullptr) {
        throw invalid_request(with_value("unknown plan_code", value));
      }
      f.plan_code = value;
    } else if (name == "is_paid") {
      once(f.is_paid.has_value(), name);
      f.is_paid = parse_bool(value, name);
    } else if (name == "paid_ends_before") {
      once(f.paid_ends_before.has_value(), name);
      f.paid_ends_before = parse_time(value, name);
    } else if (name == "declared_country") {
      once(f.declared_country.has_value(), name);
      if (!domain::is_valid_country(value)) {
        throw invalid_request(
            "declared_country must be an assigned ISO 3166-1 alpha-2 code in upper case");
      }
      f.declared_country = value;
    } else if (name == "sanction_code") {
      once(f.sanction_code.has_value(), name);
      if (domain::find_sanction(value) == nullptr) {
        throw invalid_request(with_value("unknown sanction_code", value));
      }
      f.sanction_code = value;
    } else if (name == "limit_code") {
      once(f.limit_code.has_value(), name);
      if (domain::find_limit(value) == nullptr) {
        throw invalid_request(with_value("unknown limit_code", value));
      }
      f.limit_code = value;
    } else if (name == "created_after") {
      once(f.created_after.has_value(), name);
      f.created_after = parse_time(value, name);
    } else if (name == "created_before") {
      once(f.created_before.has_value(), name);
      f.created_before = parse_time(value, name);
    } else if (name == "include_deleted") {
      once(seen_deleted, name);
      seen_deleted = true;
      f.include_deleted = parse_bool(value, name);
    } else {
      throw invalid_request(with_value("unknown query parameter", name));
    }
  }
  return req;
}

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
