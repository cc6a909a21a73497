#pragma once
// Idempotent retries (docs/api.md, "Idempotency-Key"). The first answer to a keyed request is
// stored in PostgreSQL in the request's own transaction, together with its changes; a retry
// with the same key and the same request gets that answer again and writes nothing; the same
// key with another request is a conflict. This is what makes a 504 (outcome unknown) safe to
// retry. The storage is behind this narrow interface; the HTTP layer drives it.
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "common/context.h"

namespace userservice::services {

struct StoredAnswer {
  unsigned status = 0;
  std::string body;  // "" for 204
};

// One keyed request. Its statements run in transaction(): the first statement the request
// sends also claims the key, in the same round trip, so an unkeyed and a keyed request cost
// the same number of round trips until the answer is stored (one more, with the commit).
class KeyedCall {
 public:
  enum class State {
    unused,   // no statement ran (the request failed before touching the database)
    claimed,  // this call holds the key: commit() stores the answer with the changes
    taken,    // an earlier request holds the key (committed): replay() answers
    failed,   // the key could not be claimed, or a statement failed: nothing will commit
  };
  struct Replay {
    bool same_request = false;  // the stored answer belongs to the same method, path and body
    StoredAnswer answer;
  };

  virtual ~KeyedCall() = default;
  // Goes into RequestContext::transaction while the request's handler runs.
  virtual DbTransaction* transaction() noexcept = 0;
  virtual State state() const = 0;
  // claimed: stores `answer` with the request's changes and commits (one round trip).
  // domain::Error(service_unavailable): nothing committed; (deadline_exceeded): in doubt.
  virtual boost::asio::awaitable<void> commit(const RequestContext& ctx,
                                              const StoredAnswer& answer) = 0;
  // taken: rolls back what the request ran meanwhile and reads the stored answer.
  virtual boost::asio::awaitable<Replay> replay(const RequestContext& ctx) = 0;
};

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  // A call under `key` for the request identified by `fingerprint`.
  virtual std::unique_ptr<KeyedCall> begin(std::string key, std::string fingerprint) = 0;
  // Deletes up to `batch` keys whose time to live has passed; returns how many.
  virtual boost::asio::awaitable<int> purge_expired(const RequestContext& ctx, int batch) = 0;
};

}  // namespace userservice::services
