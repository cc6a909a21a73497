#pragma once
// The account view's stored state in one row (account, entitlement snapshot, active
// sanctions and limits), shared by every store that answers with the account view, and
// the decoding helpers for the driver's text results.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/postgres/pool.h"
#include "domain/account.h"

namespace userservice::postgres {

namespace sql {

inline constexpr char kAccountStateSelect[] =
    R"(SELECT a.user_id, a.email, a.user_name, a.preferred_language, a.time_zone,
       a.declared_country, "user".epoch_us(a.created_at), "user".epoch_us(a.updated_at),
       "user".epoch_us(a.deleted_at),
       e.plan_code, e.is_paid, "user".epoch_us(e.starts_at), "user".epoch_us(e.ends_at),
       (SELECT json_agg(json_build_array(s.sanction_code, s.reason_code,
                        "user".epoch_us(s.applied_at), "user".epoch_us(s.expires_at)))
          FROM "user".sanction_active s WHERE s.user_id = a.user_id),
       (SELECT json_agg(json_build_array(l.limit_code, l.value, l.reason_code,
                        "user".epoch_us(l.applied_at), "user".epoch_us(l.expires_at)))
          FROM "user".limit_active l WHERE l.user_id = a.user_id)
  FROM "user".accounts a
  LEFT JOIN "user".entitlement_snapshots e ON e.user_id = a.user_id )";

// Compile-time concatenation, so the shared SELECT stays one literal.
template <std::size_t N>
struct SqlText {
  char data[N];
  constexpr std::string_view view() const { return {data, N - 1}; }
};
template <std::size_t A, std::size_t B>
constexpr SqlText<A + B - 1> concat(const char (&a)[A], const char (&b)[B]) {
  SqlText<A + B - 1> out{};
  for (std::size_t i = 0; i + 1 < A; ++i) out.data[i] = a[i];
  for (std::size_t i = 0; i < B; ++i) out.data[A - 1 + i] = b[i];
  return out;
}

}  // namespace sql

// Writers of one user's state lock the account row in a statement of its own, first: in READ
// COMMITTED each later statement of the transaction then takes its snapshot after the lock
// was granted, so it sees everything the previous holder committed (a sanction applied while
// this writer waited, say). A row lock inside the same statement would not: that statement's
// snapshot predates the wait.
inline constexpr Statement kLockLiveAccount{
    "lock_live_account",
    R"(SELECT user_id FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE)"};

// Timestamps cross the boundary as microseconds since the epoch ("user".epoch_us /
// "user".from_epoch_us in migrations/0001_init.sql): exact both ways, cheap to parse.
std::int64_t to_int(std::string_view s);
domain::TimePoint from_us(std::int64_t us);
domain::TimePoint time_at(const Result& r, int row, int col);
std::optional<domain::TimePoint> opt_time_at(const Result& r, int row, int col);
std::optional<std::string> opt_string_at(const Result& r, int row, int col);
std::string us_param(domain::TimePoint tp);

// Decodes one row selected by sql::kAccountStateSelect.
domain::AccountState decode_account_state(const Result& r, int row);
std::optional<domain::AccountState> first_account(const Result& r);

}  // namespace userservice::postgres
