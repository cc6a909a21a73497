#pragma once
#include <chrono>

#include "services/idempotency.h"

namespace userservice::postgres {

class Pool;

// services::IdempotencyStore on PostgreSQL ("user".idempotency_keys, migrations/0006). A keyed
// request runs in an explicit transaction (DbTransaction) whose first round trip sends BEGIN,
// the key's INSERT and the request's own first statements together. The INSERT waits for a
// concurrent transaction holding the same key; a unique violation means an earlier request
// committed an answer under it: what the request ran meanwhile is rolled back and that
// answer is read. Otherwise the answer is stored and committed in one more round trip.
class PgIdempotencyStore final : public services::IdempotencyStore {
 public:
  PgIdempotencyStore(Pool& primary, std::chrono::nanoseconds ttl) : primary_(primary), ttl_(ttl) {}

  std::unique_ptr<services::KeyedCall> begin(std::string key, std::string fingerprint) override;
  boost::asio::awaitable<int> purge_expired(const RequestContext& ctx, int batch) override;

 private:
  Pool& primary_;
  std::chrono::nanoseconds ttl_;
};

}  // namespace userservice::postgres
