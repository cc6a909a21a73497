#pragma once
// Decoding of the account view's stored state in one row (account, entitlement snapshot,
// active sanctions and limits; the account_state_select fragment, sql/account_state/), shared
// by every store that answers with the account view, and the decoding helpers for the
// driver's text results.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/postgres/pool.h"
#include "domain/account.h"
#include "sql_statements.h"  // generated from src/adapters/postgres/sql/

namespace userservice::postgres {

// Timestamps cross the boundary as microseconds since the epoch ("user".epoch_us /
// "user".from_epoch_us in migrations/0001_init.sql): exact both ways, cheap to parse.
// time_at / opt_time_at read such a column (Result::int64 / opt_int64: typed, NULL-checked).
domain::TimePoint from_us(std::int64_t us);
domain::TimePoint time_at(const Result& r, int row, int col);
std::optional<domain::TimePoint> opt_time_at(const Result& r, int row, int col);
std::string us_param(domain::TimePoint tp);

// Decodes one row selected by the account_state_select fragment (sql/account_state/).
domain::AccountState decode_account_state(const Result& r, int row);
std::optional<domain::AccountState> first_account(const Result& r);

}  // namespace userservice::postgres
