#pragma once
// Go's time.ParseDuration syntax, because the deployment tooling around this service
// is Go: "250ms", "90s", "1m30s", "1.5h", "0". Units ns, us, µs, ms, s, m, h.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace userservice::config {

// nullopt (with *why set when given) for anything Go would reject, including overflow.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text,
                                                          std::string* why = nullptr);

// Go's Duration.String() form, e.g. "1m30s", "250ms" (for logs and errors).
std::string format_go_duration(std::chrono::nanoseconds d);

}  // namespace userservice::config
