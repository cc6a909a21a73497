#pragma once
// libpq's error texts, as the postgres adapter reports them (connection.cpp, blocking_session.cpp).
#include <libpq-fe.h>

#include <string>

namespace userservice::postgres::detail {

// A libpq message without its trailing newline(s) and blanks; "" for null.
inline std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One field of an error result (PG_DIAG_SQLSTATE, PG_DIAG_CONSTRAINT_NAME, …); "" when absent.
inline std::string field(const PGresult* res, int code) {
  const char* v = PQresultErrorField(res, code);
  return v ? v : "";
}

}  // namespace userservice::postgres::detail
