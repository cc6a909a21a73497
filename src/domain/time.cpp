#include "domain/time.h"

#include <string>
#include <utility>

#include "domain/error.h"

namespace userservice::domain {

TimePoint require_rfc3339(std::string_view text, std::string_view field) {
  if (auto parsed = parse_rfc3339(text)) return *parsed;
  std::string message(field);
  message += " must be an RFC 3339 timestamp (e.g. \"2026-11-25T17:38:22.123Z\")";
  throw invalid_request(std::move(message));
}

}  // namespace userservice::domain
