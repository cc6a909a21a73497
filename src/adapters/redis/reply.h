#pragma once
// Redis replies as the service reads them: hiredis's reply tree copied into a value type, and
// the one reply the service interprets beyond "error or not" — the outbox publish script's.
// Pure (no I/O), so the fuzz target `redis_reply` can drive it with any bytes hiredis parses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct redisReplyObjectFunctions;

namespace userservice::redis {

struct Reply {
  enum class Type { nil, string, status, integer, array, error };
  Type type = Type::nil;
  std::string str;  // string, status or error text
  long long integer = 0;
  std::vector<Reply> elements;
};

// The most elements one array reply may announce. hiredis allocates an array's slots when it
// reads the header, before any element arrives, so "*2000000000\r\n" from a broken or hostile
// peer would cost gigabytes (found by fuzzing). The service's largest reply has one element per
// relayed row; a longer announcement fails the read like an I/O error.
inline constexpr int kMaxReplyElements = 65536;

// hiredis reader callbacks that build Reply values directly, with the cap above (hiredis itself
// bounds nesting at 7 levels). Install them on a context's reader (or create a reader with
// them); each reply the reader hands out is then a Reply* to pass to take_reply.
const redisReplyObjectFunctions& reply_functions() noexcept;
// Moves the value out of a reply built by reply_functions() and frees it.
Reply take_reply(void* reply) noexcept;

// What the publish script (adapters/outbox_relay/relay.cpp) answered for a batch of `rows_sent`
// rows.
struct PublishReply {
  enum class Kind {
    rows,       // one status per row, in the order sent
    fenced,     // another leader holds a newer epoch: nothing was written
    refused,    // a Redis error reply (NOSCRIPT, OOM, BUSY, a script error...)
    malformed,  // anything else: the outcome is unknown, as after an I/O error
  };
  enum class Row { ok, dup, skip, refused };
  struct RowOutcome {
    Row status = Row::skip;
    std::string error;  // Row::refused: the Redis error for that row
  };

  Kind kind = Kind::malformed;
  std::vector<RowOutcome> rows;  // Kind::rows
  std::int64_t fence = 0;        // Kind::fenced: the fence in Redis
  std::string text;              // Kind::refused / fenced: the error text; malformed: why
};

// Statuses are "ok", "dup", "skip" or "err:<Redis error>"; the error reply "FENCED <n>" is a
// fence. A reply with another shape, a row count other than `rows_sent`, an unknown status or
// a fence that is not a non-negative integer is `malformed`, never a guess.
PublishReply read_publish_reply(const Reply& reply, std::size_t rows_sent);

}  // namespace userservice::redis
