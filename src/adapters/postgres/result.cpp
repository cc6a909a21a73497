// Result: thin accessors over a text-format PGresult.
#include <charconv>
#include <string>

#include <libpq-fe.h>

#include "adapters/postgres/pool.h"

namespace userservice::postgres {

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (res_) PQclear(res_);
    res_ = other.res_;
    other.res_ = nullptr;
  }
  return *this;
}

Result::~Result() {
  if (res_) PQclear(res_);
}

int Result::rows() const { return res_ ? PQntuples(res_) : 0; }

int Result::columns() const { return res_ ? PQnfields(res_) : 0; }

bool Result::is_null(int row, int col) const {
  return res_ == nullptr || PQgetisnull(res_, row, col) != 0;
}

std::string_view Result::get(int row, int col) const {
  if (res_ == nullptr) return {};
  const char* v = PQgetvalue(res_, row, col);  // "" for NULL and out-of-range
  return v ? std::string_view(v, static_cast<std::size_t>(PQgetlength(res_, row, col)))
           : std::string_view{};
}

std::optional<std::string_view> Result::get_opt(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return get(row, col);
}

int Result::affected_rows() const {
  if (res_ == nullptr) return 0;
  const std::string_view text = PQcmdTuples(res_);
  int n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

int Result::column(std::string_view name) const {
  if (res_ == nullptr) return -1;
  // PQfnumber would case-fold and unquote the name; compare exactly instead.
  const int n = PQnfields(res_);
  for (int i = 0; i < n; ++i) {
    if (name == PQfname(res_, i)) return i;
  }
  return -1;
}

}  // namespace userservice::postgres
