// Email addresses (account keys). Oracles: the throwing and the boolean validators agree; an
// accepted address is normalised ASCII of at most 254 characters with exactly one '@', and
// validating it again gives it back unchanged (normalisation is idempotent); a rejection is
// invalid_request with a clean message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "domain/email.h"
#include "support/check.h"

using namespace userservice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::string normalized = domain::normalize_email(raw);
  FUZZ_CHECK(domain::normalize_email(normalized) == normalized);
  std::string valid;
  try {
    valid = domain::require_valid_email(raw);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    FUZZ_CHECK(!domain::is_valid_email(raw));
    return 0;
  }
  FUZZ_CHECK(domain::is_valid_email(raw));
  FUZZ_CHECK(valid == normalized);
  FUZZ_CHECK(valid.size() <= domain::kMaxEmailLength);
  FUZZ_CHECK(std::count(valid.begin(), valid.end(), '@') == 1);
  FUZZ_CHECK(valid.find('@') >= 1 && valid.find('@') <= domain::kMaxEmailLocalPartLength);
  for (char c : valid) FUZZ_CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
  FUZZ_CHECK(domain::require_valid_email(valid) == valid);
  return 0;
}
