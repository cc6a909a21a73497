#pragma once
// XADD to one Redis Stream, trimmed approximately to a maximum length (api.md §10).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/redis/connection.h"

namespace userservice::redis {

struct StreamEvent {
  std::string event_id;
  std::string event_type;
  std::string user_id;
  std::string occurred_at;  // RFC 3339
  std::string payload;      // JSON object as text
  std::string trace_id;     // empty: field omitted
};

class StreamPublisher {
 public:
  StreamPublisher(std::string stream, std::int64_t max_len)
      : stream_(std::move(stream)), max_len_(std::to_string(max_len)) {}

  const std::string& stream() const noexcept { return stream_; }

  // The argv of `XADD <stream> MAXLEN ~ <max_len> * event_id … [trace_id …]`, for
  // pipelining (Connection::pipeline). It points into `event` and this publisher, which
  // must outlive it.
  std::vector<std::string_view> xadd_command(const StreamEvent& event) const;

 private:
  std::string stream_;
  std::string max_len_;
};

}  // namespace userservice::redis
