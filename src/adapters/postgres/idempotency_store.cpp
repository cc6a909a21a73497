#include "adapters/postgres/idempotency_store.h"

#include <cstdint>
#include <optional>

#include "adapters/postgres/pool.h"
#include "domain/error.h"
#include "sql_statements.h"

namespace userservice::postgres {

// Statements: src/adapters/postgres/sql/idempotency_store/*.sql, as sql::k<Name>.
namespace {
// The claim of a key that is taken already fails on this constraint.
constexpr std::string_view kKeyConstraint = "idempotency_keys_pkey";
}  // namespace

namespace {

class PgKeyedCall final : public services::KeyedCall {
 public:
  PgKeyedCall(Pool& pool, std::string key, std::string fingerprint, std::chrono::nanoseconds ttl)
      : key_(std::move(key)),
        fingerprint_(std::move(fingerprint)),
        tx_(pool, claim(key_, fingerprint_, ttl),
            {&sql::kIdempotencyStoreAnswer, &sql::kIdempotencyStoredAnswer}) {}

  DbTransaction* transaction() noexcept override { return &tx_; }

  State state() const override {
    if (!tx_.begun()) return State::unused;
    if (auto e = tx_.prologue_error()) {
      try {
        std::rethrow_exception(e);
      } catch (const SqlError& s) {
        if (is_unique_violation(s, kKeyConstraint)) return State::taken;
      } catch (...) {
      }
      return State::failed;
    }
    return tx_.failed() ? State::failed : State::claimed;
  }

  boost::asio::awaitable<void> commit(const RequestContext& ctx,
                                      const services::StoredAnswer& answer) override {
    std::vector<Query> queries;
    queries.push_back(Query{&sql::kIdempotencyStoreAnswer,
                            Params{key_, std::to_string(answer.status), answer.body}});
    co_await tx_.commit(std::move(queries), ctx);
  }

  boost::asio::awaitable<Replay> replay(const RequestContext& ctx) override {
    std::vector<Query> after;
    after.push_back(Query{&sql::kIdempotencyStoredAnswer, Params{key_}});
    std::vector<Result> results = co_await tx_.rollback(std::move(after), ctx);
    const Result& row = results.at(0);
    std::optional<std::int64_t> status;  // NULL: claimed, no answer stored
    if (row.rows() > 0) status = row.opt_int64(0, 1);
    if (!status) {
      // Claimed by a transaction that committed, then purged in between: vanishingly rare.
      throw domain::Error(domain::ErrorCode::service_unavailable, "database unavailable",
                          "idempotency key vanished between its claim and its replay");
    }
    Replay out;
    out.same_request = row.text(0, 0) == fingerprint_;
    out.answer.status = static_cast<unsigned>(*status);
    out.answer.body = row.text(0, 2);
    co_return out;
  }

 private:
  static std::vector<Query> claim(const std::string& key, const std::string& fingerprint,
                                  std::chrono::nanoseconds ttl) {
    std::vector<Query> q;
    q.push_back(Query{
        &sql::kIdempotencyClaimKey,
        Params{
            key, fingerprint,
            std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(ttl).count())}});
    return q;
  }

  std::string key_;
  std::string fingerprint_;
  DbTransaction tx_;
};

}  // namespace

std::unique_ptr<services::KeyedCall> PgIdempotencyStore::begin(std::string key,
                                                               std::string fingerprint) {
  return std::make_unique<PgKeyedCall>(primary_, std::move(key), std::move(fingerprint), ttl_);
}

boost::asio::awaitable<int> PgIdempotencyStore::purge_expired(const RequestContext& ctx,
                                                              int batch) {
  Result r = co_await primary_.query(sql::kIdempotencyPurgeKeys, {std::to_string(batch)}, ctx);
  co_return r.affected_rows();
}

}  // namespace userservice::postgres
