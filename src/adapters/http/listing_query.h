#pragma once
// The admin listing's query string (api.md §8 "Listing") into the service's typed request.
#include <span>
#include <string>
#include <utility>

#include "services/listing_service.h"

namespace userservice::http {

// Builds a request from the query parameters, percent-decoded, in arrival order (query_pairs,
// handlers/common.h). Every parameter at most once; unknown names and malformed values throw
// domain::Error(invalid_request) naming the parameter; page_size is range-checked here.
// Timestamps are kept at microsecond precision (what the database stores).
services::ListingRequest parse_listing_query(
    std::span<const std::pair<std::string, std::string>> params);

}  // namespace userservice::http
