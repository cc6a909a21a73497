#include "adapters/redis/stream_publisher.h"

namespace userservice::redis {

void StreamPublisher::append_fields(const StreamEvent& e, std::vector<std::string_view>& out) {
  // event_id first: the relay's script finds it there when it looks for entries already
  // published (adapters/outbox_relay/relay.cpp).
  out.insert(out.end(), {"event_id", e.event_id, "event_type", e.event_type, "user_id", e.user_id,
                         "occurred_at", e.occurred_at, "payload", e.payload});
  if (!e.trace_id.empty()) {
    out.push_back("trace_id");
    out.push_back(e.trace_id);
  }
}

}  // namespace userservice::redis
