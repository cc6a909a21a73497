#include "adapters/postgres/idempotency_store.h"

#include <charconv>

#include "adapters/postgres/pool.h"
#include "domain/error.h"

namespace userservice::postgres {

namespace sql {

// Times are the database's own clock (now(): the transaction's start), so the time to live
// and the purge agree whatever the service hosts' clocks say.
constexpr Statement kClaimKey{
    "idempotency_claim_key",
    R"(INSERT INTO "user".idempotency_keys (key, fingerprint, created_at, expires_at)
       VALUES ($1, $2, now(), now() + $3::bigint * interval '1 microsecond'))",
    Access::write};

constexpr Statement kStoreAnswer{
    "idempotency_store_answer",
    R"(UPDATE "user".idempotency_keys SET status = $2::int, body = $3 WHERE key = $1)",
    Access::write};

constexpr Statement kStoredAnswer{
    "idempotency_stored_answer",
    R"(SELECT fingerprint, status, body FROM "user".idempotency_keys WHERE key = $1)"};

// Oldest first, a batch at a time; SKIP LOCKED: instances sweeping together never wait.
constexpr Statement kPurgeKeys{
    "idempotency_purge_keys",
    R"(DELETE FROM "user".idempotency_keys
        WHERE key IN (SELECT key FROM "user".idempotency_keys WHERE expires_at <= now()
                       ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))",
    Access::write};

constexpr std::string_view kKeyConstraint = "idempotency_keys_pkey";

}  // namespace sql

namespace {

class PgKeyedCall final : public services::KeyedCall {
 public:
  PgKeyedCall(Pool& pool, std::string key, std::string fingerprint, std::chrono::nanoseconds ttl)
      : key_(std::move(key)),
        fingerprint_(std::move(fingerprint)),
        tx_(pool, claim(key_, fingerprint_, ttl), {&sql::kStoreAnswer, &sql::kStoredAnswer}) {}

  DbTransaction* transaction() noexcept override { return &tx_; }

  State state() const override {
    if (!tx_.begun()) return State::unused;
    if (auto e = tx_.prologue_error()) {
      try {
        std::rethrow_exception(e);
      } catch (const SqlError& s) {
        if (s.sqlstate == "23505" && s.constraint == sql::kKeyConstraint) return State::taken;
      } catch (...) {
      }
      return State::failed;
    }
    return tx_.failed() ? State::failed : State::claimed;
  }

  boost::asio::awaitable<void> commit(const RequestContext& ctx,
                                      const services::StoredAnswer& answer) override {
    std::vector<Query> queries;
    queries.push_back(Query{&sql::kStoreAnswer,
                            Params{key_, std::to_string(answer.status), answer.body}});
    co_await tx_.commit(std::move(queries), ctx);
  }

  boost::asio::awaitable<Replay> replay(const RequestContext& ctx) override {
    std::vector<Query> after;
    after.push_back(Query{&sql::kStoredAnswer, Params{key_}});
    std::vector<Result> results = co_await tx_.rollback(std::move(after), ctx);
    const Result& row = results.at(0);
    if (row.rows() == 0 || row.is_null(0, 1)) {
      // Claimed by a transaction that committed, then purged in between: vanishingly rare.
      throw domain::Error(domain::ErrorCode::service_unavailable, "database unavailable",
                          "idempotency key vanished between its claim and its replay");
    }
    Replay out;
    out.same_request = row.get(0, 0) == fingerprint_;
    const std::string_view status = row.get(0, 1);
    std::from_chars(status.data(), status.data() + status.size(), out.answer.status);
    out.answer.body = std::string(row.get(0, 2));
    co_return out;
  }

 private:
  static std::vector<Query> claim(const std::string& key, const std::string& fingerprint,
                                  std::chrono::nanoseconds ttl) {
    std::vector<Query> q;
    q.push_back(Query{&sql::kClaimKey,
                      Params{key, fingerprint,
                             std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                                ttl)
                                                .count())}});
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
  Result r = co_await primary_.query(sql::kPurgeKeys, {std::to_string(batch)}, ctx);
  co_return r.affected_rows();
}

// For `userservice --print-statements` (statements.h).
std::vector<const Statement*> idempotency_store_statements() {
  using namespace sql;
  return {&kClaimKey, &kStoreAnswer, &kStoredAnswer, &kPurgeKeys};
}

}  // namespace userservice::postgres
