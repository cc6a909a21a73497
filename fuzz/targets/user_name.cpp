// Public user names. Oracles: the validators agree; an accepted name matches
// ^[A-Za-z][A-Za-z0-9_-]{2,23}$ and is not reserved; the uniqueness key is its ASCII lower case
// and a fixed point; a rejection is invalid_request with a clean message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "domain/user_name.h"
#include "support/check.h"

using namespace userservice;

namespace {

bool alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  const bool valid = domain::is_valid_user_name(name);
  try {
    domain::require_valid_user_name(name);
    FUZZ_CHECK(valid);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    FUZZ_CHECK(!valid);
  }
  const std::string key = domain::user_name_key(name);
  FUZZ_CHECK(key.size() == name.size());
  FUZZ_CHECK(domain::user_name_key(key) == key);
  if (!valid) return 0;
  FUZZ_CHECK(name.size() >= 3 && name.size() <= 24 && alpha(name[0]));
  for (char c : name) FUZZ_CHECK(alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-');
  FUZZ_CHECK(!domain::is_reserved_user_name(name));
  return 0;
}
