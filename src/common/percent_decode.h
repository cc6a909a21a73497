#pragma once
// RFC 3986 percent-decoding (Boost.URL), the one decoder of the service: HTTP path parameters
// and query strings, and the OTel variables that the specification says are percent-encoded
// (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS).
#include <string>
#include <string_view>

namespace userservice::common {

// Decodes `in` into `out` (its buffer reused); false, `out` unspecified, when a '%' is not
// followed by two hex digits. '+' stays '+' (that is form encoding, not RFC 3986).
bool percent_decode(std::string_view in, std::string& out);

}  // namespace userservice::common
