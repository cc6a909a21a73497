#include "adapters/http/listing_query.h"

#include <charconv>
#include <chrono>

#include "domain/catalog.h"
#include "domain/error.h"
#include "domain/locale.h"
#include "domain/time.h"

namespace userservice::http {

using domain::invalid_request;
using domain::TimePoint;
using services::ListingRequest;

namespace {

TimePoint to_us(TimePoint tp) { return std::chrono::floor<std::chrono::microseconds>(tp); }

int parse_page_size(const std::string& value) {
  int n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  // Plain decimal digits only: no sign, no spaces, no exponent, no leading "+".
  if (value.empty() || value.size() > 9 || value[0] == '-' || ec != std::errc() ||
      p != value.data() + value.size() || n < 1 || n > services::kMaxListingPageSize) {
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
  services::ListingFilter& f = req.filter;
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

}  // namespace userservice::http
