#pragma once
// RFC 3339 timestamps on the wire (api.md §1). The formatting and parsing live in
// common/rfc3339.h (the lowest layer, so the JSON writer can use them); the domain names them
// here and adds require_rfc3339, which rejects a request with a domain::Error.
#include <string_view>

#include "common/rfc3339.h"

namespace userservice::domain {

using common::TimePoint;

using common::kRfc3339MillisLength;

using common::append_rfc3339_millis;
using common::format_rfc3339_millis;
using common::parse_rfc3339;
using common::write_rfc3339_millis;

// parse_rfc3339 or Error(invalid_request) naming `field` ("expires_at").
TimePoint require_rfc3339(std::string_view text, std::string_view field);

}  // namespace userservice::domain
