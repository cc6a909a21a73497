// Result: thin accessors over a text-format PGresult; typed reads; SqlError predicates;
// array parameters.
#include <charconv>
#include <limits>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

#include "adapters/postgres/pool.h"
#include "adapters/postgres/sqlstate.h"

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

namespace {

// Type OIDs (pg_type.h; stable across PostgreSQL versions).
constexpr unsigned kBoolOid = 16;
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kInt2Oid = 21;
constexpr unsigned kInt4Oid = 23;
constexpr unsigned kFloat4Oid = 700;
constexpr unsigned kFloat8Oid = 701;
constexpr unsigned kNumericOid = 1700;

[[noreturn]] void mismatch(const pg_result* res, int row, int col, std::string_view what) {
  const char* name = res != nullptr && col >= 0 && col < PQnfields(res) ? PQfname(res, col) : "?";
  throw std::logic_error("database result row " + std::to_string(row) + " column " +
                         std::to_string(col) + " (" + name + "): " + std::string(what));
}

}  // namespace

std::optional<std::string> Result::opt_text(int row, int col) const {
  if (res_ == nullptr || row < 0 || row >= rows() || col < 0 || col >= columns()) {
    mismatch(res_, row, col, "no such value");
  }
  if (is_null(row, col)) return std::nullopt;
  return std::string(get(row, col));
}

std::string Result::text(int row, int col) const {
  std::optional<std::string> v = opt_text(row, col);
  if (!v) mismatch(res_, row, col, "NULL where a value was expected");
  return std::move(*v);
}

bool Result::boolean(int row, int col) const {
  const std::string v = text(row, col);
  if (PQftype(res_, col) != kBoolOid) mismatch(res_, row, col, "not a boolean");
  if (v == "t") return true;
  if (v == "f") return false;
  mismatch(res_, row, col, "unexpected boolean text " + v);
}

std::optional<std::int64_t> Result::opt_int64(int row, int col) const {
  const std::optional<std::string> v = opt_text(row, col);
  if (!v) return std::nullopt;
  const unsigned type = PQftype(res_, col);
  if (type != kInt8Oid && type != kInt4Oid && type != kInt2Oid) {
    mismatch(res_, row, col, "not an integer");
  }
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) {
    mismatch(res_, row, col, "unexpected integer text " + *v);
  }
  return out;
}

std::int64_t Result::int64(int row, int col) const {
  const std::optional<std::int64_t> v = opt_int64(row, col);
  if (!v) mismatch(res_, row, col, "NULL where a value was expected");
  return *v;
}

double Result::float64(int row, int col) const {
  const std::string v = text(row, col);
  const unsigned type = PQftype(res_, col);
  if (type != kFloat8Oid && type != kFloat4Oid && type != kNumericOid) {
    mismatch(res_, row, col, "not a floating-point number");
  }
  // PostgreSQL's spellings of the special values.
  if (v == "Infinity") return std::numeric_limits<double>::infinity();
  if (v == "-Infinity") return -std::numeric_limits<double>::infinity();
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    mismatch(res_, row, col, "unexpected number text " + v);
  }
  return out;
}

bool is_unique_violation(const SqlError& e, std::string_view constraint) {
  return sqlstate::is_unique_violation(e.sqlstate) && e.constraint == constraint;
}

namespace {
template <typename Item>
std::string quoted_array(std::span<const Item> items, std::size_t min_elements) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  for (std::size_t i = items.size(); i < min_elements; ++i) out += i > 0 ? ",NULL" : "NULL";
  out += '}';
  return out;
}
}  // namespace

std::string text_array(std::span<const std::string> items, std::size_t min_elements) {
  return quoted_array(items, min_elements);
}
std::string text_array(std::span<const std::string_view> items, std::size_t min_elements) {
  return quoted_array(items, min_elements);
}

std::string bigint_array(std::span<const std::int64_t> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(items[i]);
  }
  out += '}';
  return out;
}

}  // namespace userservice::postgres
