#pragma once
// Oracles shared by the fuzz targets. A failed check aborts, which libFuzzer reports as a crash
// with the input that caused it (saved as crash-<sha1> for a regression seed).
#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/utf8.h"
#include "domain/error.h"

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace userservice::fuzz {

// Text the service writes: valid UTF-8, and when `json`, one valid JSON document.
inline void check_output(std::string_view text, bool json) {
  FUZZ_CHECK(is_valid_utf8(text));
  if (json) {
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    FUZZ_CHECK(!ec);
  }
}

// A validation failure: a 4xx code whose client-facing message is clean text.
inline void check_client_error(const domain::Error& e) {
  FUZZ_CHECK(e.code() == domain::ErrorCode::invalid_request);
  FUZZ_CHECK(!e.message().empty());
  FUZZ_CHECK(is_valid_utf8(e.message()));
}

}  // namespace userservice::fuzz
