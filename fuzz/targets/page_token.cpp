// Page tokens (history and listing cursors): base64url, SipHash tag, versioned payload.
// Input: scope '\n' token. Oracles: a token is either rejected with invalid_request or opens
// to a payload that seals back to the same token; a decoded cursor re-encodes to the same token;
// base64url decoding is canonical (decode then encode gives the input back).
#include <cstddef>
#include <cstdint>
#include <string>

#include "domain/page_token.h"
#include "domain/user_id.h"
#include "support/check.h"

using namespace userservice;

namespace {

// Both cursor decoders: invalid_request, or a cursor that encodes back to the same token.
void check_cursors(std::string_view scope, std::string_view token) {
  try {
    const std::int64_t id = domain::decode_record_cursor(scope, token);
    FUZZ_CHECK(domain::encode_record_cursor(scope, id) == token);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
  }
  try {
    const domain::KeysetCursor c = domain::decode_keyset_cursor(scope, token);
    FUZZ_CHECK(domain::encode_keyset_cursor(scope, c) == token);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view scope =
      nl == std::string_view::npos ? std::string_view("history") : input.substr(0, nl);
  const std::string_view token = nl == std::string_view::npos ? input : input.substr(nl + 1);

  if (auto bytes = domain::base64url_decode(token)) {
    FUZZ_CHECK(domain::base64url_encode(*bytes) == token);
  }
  if (auto payload = domain::open_page_token(scope, token)) {
    FUZZ_CHECK(token.size() <= domain::kMaxPageTokenLength);
    FUZZ_CHECK(domain::seal_page_token(scope, *payload) == token);
  }
  check_cursors(scope, token);
  // Cursor payloads are reached only through a valid tag: seal the input as a payload, so the
  // cursor decoders meet arbitrary payload bytes (the tag stops a client from doing this).
  const std::string sealed = domain::seal_page_token(scope, token);
  check_cursors(scope, sealed);
  // Any payload round-trips through a sealed token (input used as the payload).
  FUZZ_CHECK(domain::open_page_token(scope, sealed) ==
                 std::optional<std::string>(std::string(token)) ||
             sealed.size() > domain::kMaxPageTokenLength);
  return 0;
}
