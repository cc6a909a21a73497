#include "adapters/redis/reply.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <new>
#include <string_view>

namespace userservice::redis {

namespace {

// The reply value for `task`: a new root, or the slot its parent array reserved for it.
Reply* slot(const redisReadTask* task) {
  if (task->parent == nullptr) return new (std::nothrow) Reply;
  auto* parent = static_cast<Reply*>(task->parent->obj);
  return &parent->elements[static_cast<std::size_t>(task->idx)];
}

// hiredis reads a null return as out-of-memory: the read fails and the context is unusable.
template <typename Fill>
void* build(const redisReadTask* task, Fill fill) noexcept {
  Reply* r = slot(task);
  if (r == nullptr) return nullptr;
  try {
    fill(*r);
  } catch (...) {
    if (task->parent == nullptr) delete r;
    return nullptr;
  }
  return r;
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  return build(task, [&](Reply& r) {
    r.type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
             : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                : Reply::Type::string;
    r.str.assign(str, len);
  });
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || elements > kMaxReplyElements) return nullptr;
  return build(task, [&](Reply& r) {
    r.type = Reply::Type::array;
    r.elements.resize(static_cast<std::size_t>(elements));
  });
}

void* create_integer(const redisReadTask* task, long long value) {
  return build(task, [&](Reply& r) {
    r.type = Reply::Type::integer;
    r.integer = value;
  });
}

void* create_nil(const redisReadTask* task) {
  return build(task, [](Reply& r) { r.type = Reply::Type::nil; });
}

// hiredis frees only the root (an unfinished reply on error, or at reader teardown).
void free_reply(void* reply) { delete static_cast<Reply*>(reply); }

redisReplyObjectFunctions kFunctions = {create_string, create_array, create_integer, create_nil,
                                        free_reply};

}  // namespace

const redisReplyObjectFunctions& reply_functions() noexcept { return kFunctions; }

Reply take_reply(void* reply) noexcept {
  auto* r = static_cast<Reply*>(reply);
  Reply out = std::move(*r);
  delete r;
  return out;
}

namespace {

PublishReply malformed(std::string why) {
  PublishReply out;
  out.kind = PublishReply::Kind::malformed;
  out.text = std::move(why);
  return out;
}

}  // namespace

PublishReply read_publish_reply(const Reply& reply, std::size_t rows_sent) {
  PublishReply out;
  if (reply.type == Reply::Type::error) {
    constexpr std::string_view kFenced = "FENCED ";
    std::string_view text = reply.str;
    if (text.starts_with(kFenced)) {
      const std::string_view digits = text.substr(kFenced.size());
      std::int64_t fence = -1;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fence);
      if (ec != std::errc() || end != digits.data() + digits.size() || fence < 0 ||
          digits.empty() || digits.front() == '-') {
        return malformed("publish script: the fence in redis is not an epoch");
      }
      out.kind = PublishReply::Kind::fenced;
      out.fence = fence;
      out.text = reply.str;
      return out;
    }
    out.kind = PublishReply::Kind::refused;
    out.text = reply.str;
    return out;
  }
  if (reply.type != Reply::Type::array) return malformed("publish script: unexpected reply");
  if (reply.elements.size() != rows_sent) {
    return malformed("publish script: " + std::to_string(reply.elements.size()) + " statuses for " +
                     std::to_string(rows_sent) + " rows");
  }
  out.kind = PublishReply::Kind::rows;
  out.rows.reserve(rows_sent);
  for (const Reply& e : reply.elements) {
    if (e.type != Reply::Type::string && e.type != Reply::Type::status) {
      return malformed("publish script: a row status is not a string");
    }
    PublishReply::RowOutcome row;
    const std::string_view s = e.str;
    if (s == "ok") {
      row.status = PublishReply::Row::ok;
    } else if (s == "dup") {
      row.status = PublishReply::Row::dup;
    } else if (s == "skip") {
      row.status = PublishReply::Row::skip;
    } else if (s.starts_with("err:")) {
      row.status = PublishReply::Row::refused;
      row.error = std::string(s.substr(4));
    } else {
      return malformed("publish script: unknown row status");
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace userservice::redis
