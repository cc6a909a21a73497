#pragma once
// Every SQLSTATE code the service tells apart (PostgreSQL, Appendix A), and named predicates
// over them. The one place such codes are spelled: code elsewhere asks by name
// (is_unique_violation, is_query_canceled, ...), never compares a five-character literal.
#include <string_view>

namespace userservice::postgres::sqlstate {

// 23505 unique_violation: a unique index or primary key refused a row.
inline constexpr std::string_view kUniqueViolation = "23505";
// 57014 query_canceled: statement_timeout or a cancel request.
inline constexpr std::string_view kQueryCanceled = "57014";
// 26000 invalid_sql_statement_name: a prepared statement the server does not know (any more).
inline constexpr std::string_view kInvalidStatementName = "26000";
// Class 08, connection exception: the connection is gone ...
inline constexpr std::string_view kConnectionExceptionClass = "08";
// ... except 08P01 protocol_violation, which the server also raises for a statement sent with
// the wrong parameter count: a statement error, the connection stays usable.
inline constexpr std::string_view kProtocolViolation = "08P01";
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: the server is going
// away or not accepting sessions yet.
inline constexpr std::string_view kOperatorInterventionShutdown = "57P";
// UD001: raised by "user".deadline_guard (migrations/0005) when the server reaches a batched
// write after its caller's deadline; the transaction rolls back.
inline constexpr std::string_view kDeadlinePassed = "UD001";

// Severities (PG_DIAG_SEVERITY_NONLOCALIZED) that end the session.
inline constexpr std::string_view kSeverityFatal = "FATAL";
inline constexpr std::string_view kSeverityPanic = "PANIC";

inline bool is_unique_violation(std::string_view state) noexcept {
  return state == kUniqueViolation;
}
inline bool is_query_canceled(std::string_view state) noexcept { return state == kQueryCanceled; }
inline bool is_invalid_statement_name(std::string_view state) noexcept {
  return state == kInvalidStatementName;
}
inline bool is_deadline_passed(std::string_view state) noexcept { return state == kDeadlinePassed; }

// Whether an error with this SQLSTATE and severity means the session is gone (server
// shutdown, protocol loss, FATAL) rather than one statement rejected. An empty state is an
// error libpq generated itself (a lost connection).
inline bool is_connection_failure(std::string_view state, std::string_view severity) noexcept {
  if (state.empty()) return true;
  if (severity == kSeverityFatal || severity == kSeverityPanic) return true;
  if (state.starts_with(kOperatorInterventionShutdown)) return true;
  return state.starts_with(kConnectionExceptionClass) && state != kProtocolViolation;
}

}  // namespace userservice::postgres::sqlstate
