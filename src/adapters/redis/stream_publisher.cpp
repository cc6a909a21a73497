#include "adapters/redis/stream_publisher.h"

namespace userservice::redis {

std::vector<std::string_view> StreamPublisher::xadd_command(const StreamEvent& e) const {
  std::vector<std::string_view> argv = {
      "XADD",     stream_,       "MAXLEN",  "~",           max_len_, "*",
      "event_id", e.event_id,    "event_type", e.event_type, "user_id", e.user_id,
      "occurred_at", e.occurred_at, "payload", e.payload};
  if (!e.trace_id.empty()) {
    argv.push_back("trace_id");
    argv.push_back(e.trace_id);
  }
  return argv;
}

}  // namespace userservice::redis
