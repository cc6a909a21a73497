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
  const std::string& max_len() const noexcept { return max_len_; }

  // The entry's field/value pairs, event_id first: `event_id … event_type … user_id …
  // occurred_at … payload … [trace_id …]`. They point into `event`, which must outlive them.
  static void append_fields(const StreamEvent& event, std::vector<std::string_view>& out);

 private:
  std::string stream_;
  std::string max_len_;
};

}  // namespace userservice::redis
