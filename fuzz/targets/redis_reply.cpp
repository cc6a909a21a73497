// Redis replies: bytes in RESP, parsed by hiredis's reader with the reply functions the
// connection installs (Reply values, capped array sizes), then read as the outbox publish
// script's answer. The first byte is the number of rows the relay sent.
// Oracles: a `rows` outcome has exactly one status per row sent; a fence is a non-negative
// epoch; every other reply is refused or malformed, never silently taken as rows.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>

#include "adapters/redis/reply.h"
#include "support/check.h"

using namespace userservice;
using redis::PublishReply;
using redis::Reply;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t rows_sent = data[0] % 8;
  redisReader* reader = redisReaderCreateWithFunctions(
      const_cast<redisReplyObjectFunctions*>(&redis::reply_functions()));
  FUZZ_CHECK(reader != nullptr);
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data) + 1, size - 1) == REDIS_OK) {
    for (int i = 0; i < 16; ++i) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader, &raw) != REDIS_OK || raw == nullptr) break;
      const Reply reply = redis::take_reply(raw);
      const PublishReply out = redis::read_publish_reply(reply, rows_sent);
      switch (out.kind) {
        case PublishReply::Kind::rows:
          FUZZ_CHECK(reply.type == Reply::Type::array);
          FUZZ_CHECK(out.rows.size() == rows_sent);
          break;
        case PublishReply::Kind::fenced:
          FUZZ_CHECK(reply.type == Reply::Type::error && out.fence >= 0);
          break;
        case PublishReply::Kind::refused:
          FUZZ_CHECK(reply.type == Reply::Type::error);
          break;
        case PublishReply::Kind::malformed:
          FUZZ_CHECK(!out.text.empty());
          break;
      }
    }
  }
  redisReaderFree(reader);
  return 0;
}
