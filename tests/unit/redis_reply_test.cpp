#include "adapters/redis/reply.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

using userservice::redis::kMaxReplyElements;
using userservice::redis::PublishReply;
using userservice::redis::read_publish_reply;
using userservice::redis::Reply;

Reply str(std::string s, Reply::Type type = Reply::Type::string) {
  Reply r;
  r.type = type;
  r.str = std::move(s);
  return r;
}

Reply array(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(elements);
  return r;
}

TEST(PublishReply, OneStatusPerRowInOrder) {
  const auto out = read_publish_reply(
      array({str("ok"), str("dup", Reply::Type::status), str("skip"), str("err:WRONGTYPE no")}), 4);
  ASSERT_EQ(out.kind, PublishReply::Kind::rows);
  ASSERT_EQ(out.rows.size(), 4u);
  EXPECT_EQ(out.rows[0].status, PublishReply::Row::ok);
  EXPECT_EQ(out.rows[1].status, PublishReply::Row::dup);
  EXPECT_EQ(out.rows[2].status, PublishReply::Row::skip);
  EXPECT_EQ(out.rows[3].status, PublishReply::Row::refused);
  EXPECT_EQ(out.rows[3].error, "WRONGTYPE no");
}

TEST(PublishReply, AFenceIsANonNegativeEpoch) {
  auto out = read_publish_reply(str("FENCED 42", Reply::Type::error), 3);
  ASSERT_EQ(out.kind, PublishReply::Kind::fenced);
  EXPECT_EQ(out.fence, 42);
  for (const char* bad :
       {"FENCED -1", "FENCED ", "FENCED 1e3", "FENCED 12x", "FENCED 99999999999999999999"}) {
    EXPECT_EQ(read_publish_reply(str(bad, Reply::Type::error), 0).kind,
              PublishReply::Kind::malformed)
        << bad;
  }
}

TEST(PublishReply, OtherErrorsAreRefusals) {
  auto out = read_publish_reply(str("NOSCRIPT No matching script", Reply::Type::error), 1);
  EXPECT_EQ(out.kind, PublishReply::Kind::refused);
  EXPECT_EQ(out.text, "NOSCRIPT No matching script");
  EXPECT_EQ(read_publish_reply(str("FENCED", Reply::Type::error), 1).kind,
            PublishReply::Kind::refused);
}

// Anything the relay cannot read as one known status per row is an unknown outcome: the rows
// stay in the outbox and the next batch looks before adding (never a guess that they were sent).
TEST(PublishReply, AnythingElseIsMalformed) {
  EXPECT_EQ(read_publish_reply(array({str("ok")}), 2).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(array({str("ok"), str("ok")}), 1).kind,
            PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(array({str("OK")}), 1).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(array({str("")}), 1).kind, PublishReply::Kind::malformed);
  Reply integer;
  integer.type = Reply::Type::integer;
  integer.integer = 1;
  EXPECT_EQ(read_publish_reply(array({integer}), 1).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(array({array({str("ok")})}), 1).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(integer, 0).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(Reply{}, 0).kind, PublishReply::Kind::malformed);
  EXPECT_EQ(read_publish_reply(str("ok", Reply::Type::status), 0).kind,
            PublishReply::Kind::malformed);
  // An empty batch (the fence-raising call) answers an empty array.
  EXPECT_EQ(read_publish_reply(array({}), 0).kind, PublishReply::Kind::rows);
}

// The reader the connection uses: RESP bytes to Reply values.
struct Reader {
  Reader()
      : r(redisReaderCreateWithFunctions(
            const_cast<redisReplyObjectFunctions*>(&userservice::redis::reply_functions()))) {}
  ~Reader() { redisReaderFree(r); }
  // The next reply; nullopt when incomplete; throws on a protocol error.
  std::optional<Reply> read(std::string_view bytes) {
    if (!bytes.empty()) redisReaderFeed(r, bytes.data(), bytes.size());
    void* raw = nullptr;
    if (redisReaderGetReply(r, &raw) != REDIS_OK) throw std::runtime_error(r->errstr);
    if (raw == nullptr) return std::nullopt;
    return userservice::redis::take_reply(raw);
  }
  redisReader* r;
};

TEST(ReplyReader, BuildsNestedValues) {
  Reader reader;
  auto reply = reader.read("*4\r\n$2\r\nok\r\n+PONG\r\n*2\r\n:-7\r\n$-1\r\n-ERR no\r\n");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, Reply::Type::array);
  ASSERT_EQ(reply->elements.size(), 4u);
  EXPECT_EQ(reply->elements[0].type, Reply::Type::string);
  EXPECT_EQ(reply->elements[0].str, "ok");
  EXPECT_EQ(reply->elements[1].type, Reply::Type::status);
  EXPECT_EQ(reply->elements[1].str, "PONG");
  ASSERT_EQ(reply->elements[2].elements.size(), 2u);
  EXPECT_EQ(reply->elements[2].elements[0].integer, -7);
  EXPECT_EQ(reply->elements[2].elements[1].type, Reply::Type::nil);
  EXPECT_EQ(reply->elements[3].type, Reply::Type::error);
  EXPECT_EQ(reply->elements[3].str, "ERR no");
}

TEST(ReplyReader, KeepsAPartialReplyUntilItCompletes) {
  Reader reader;
  EXPECT_FALSE(reader.read("*2\r\n$3\r\nfoo\r\n"));
  auto reply = reader.read(":1\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->elements[1].integer, 1);
}

// Regression (fuzz/regressions/redis_reply/): an array header announcing 311 million elements
// made hiredis allocate 2.4 GB before a single element arrived.
TEST(ReplyReader, AnAnnouncedArrayAboveTheCapFailsTheReadWithoutAllocatingIt) {
  Reader reader;
  EXPECT_THROW(reader.read("*311111111\r\n"), std::runtime_error);
  Reader at_cap;
  EXPECT_FALSE(at_cap.read("*" + std::to_string(kMaxReplyElements) + "\r\n"));
  Reader above;
  EXPECT_THROW(above.read("*" + std::to_string(kMaxReplyElements + 1) + "\r\n"),
               std::runtime_error);
}

}  // namespace
