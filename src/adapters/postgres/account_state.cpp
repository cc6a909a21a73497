#include "adapters/postgres/account_state.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace userservice::postgres {

using domain::TimePoint;

TimePoint from_us(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }
TimePoint time_at(const Result& r, int row, int col) { return from_us(r.int64(row, col)); }
std::optional<TimePoint> opt_time_at(const Result& r, int row, int col) {
  const std::optional<std::int64_t> us = r.opt_int64(row, col);
  if (!us) return std::nullopt;
  return from_us(*us);
}

std::string us_param(TimePoint tp) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count());
}

namespace {
std::optional<TimePoint> opt_json_time(const boost::json::value& v) {
  if (v.is_null()) return std::nullopt;
  return from_us(v.to_number<std::int64_t>());
}

}  // namespace

domain::AccountState decode_account_state(const Result& r, int row) {
  domain::AccountState s;
  auto& a = s.account;
  a.user_id = r.text(row, 0);
  a.email = r.text(row, 1);
  a.user_name = r.text(row, 2);
  a.preferred_language = r.text(row, 3);
  a.time_zone = r.text(row, 4);
  a.declared_country = r.opt_text(row, 5);
  a.created_at = time_at(r, row, 6);
  a.updated_at = time_at(r, row, 7);
  a.deleted_at = opt_time_at(r, row, 8);
  if (r.is_null(row, 9)) {
    // Every account gets a snapshot at creation; tolerate its absence as "free since creation".
    s.entitlement = {std::string(domain::kFreePlan), false, a.created_at, std::nullopt};
  } else {
    s.entitlement.plan_code = r.text(row, 9);
    s.entitlement.is_paid = r.boolean(row, 10);
    s.entitlement.starts_at = time_at(r, row, 11);
    s.entitlement.ends_at = opt_time_at(r, row, 12);
  }
  // The parsed documents are named: a range-for over parse(...).as_array() would iterate
  // a reference into a temporary that is already gone.
  if (!r.is_null(row, 13)) {
    const boost::json::value sanctions = boost::json::parse(r.text(row, 13));
    for (const auto& item : sanctions.as_array()) {
      const auto& x = item.as_array();
      s.sanctions.push_back({std::string(x.at(0).as_string()), std::string(x.at(1).as_string()),
                             from_us(x.at(2).to_number<std::int64_t>()), opt_json_time(x.at(3))});
    }
  }
  if (!r.is_null(row, 14)) {
    const boost::json::value limits = boost::json::parse(r.text(row, 14));
    for (const auto& item : limits.as_array()) {
      const auto& x = item.as_array();
      s.limits.push_back({std::string(x.at(0).as_string()), x.at(1).to_number<std::int64_t>(),
                          std::string(x.at(2).as_string()),
                          from_us(x.at(3).to_number<std::int64_t>()), opt_json_time(x.at(4))});
    }
  }
  return s;
}

std::optional<domain::AccountState> first_account(const Result& r) {
  if (r.rows() == 0) return std::nullopt;
  return decode_account_state(r, 0);
}

}  // namespace userservice::postgres
