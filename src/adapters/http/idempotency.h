#pragma once
// The Idempotency-Key request header (docs/api.md, "Idempotency-Key") on the mutating admin
// routes and ensure-by-email: the first answer under a key is stored with the request's
// changes, in its transaction; a retry with the same key and the same request replays it
// (same status, same body, header Idempotent-Replayed: true) and writes nothing; the same key
// with a different request is 409 conflict.
#include <optional>
#include <string>
#include <string_view>

#include "adapters/http/message.h"

namespace userservice::services {
class IdempotencyStore;
}

namespace userservice::http {

// The key of `req`: nullopt without the header. 1–255 visible ASCII characters, optionally
// as a structured-field string ("…", RFC 8941, as the IETF draft spells it). Anything else,
// or the header twice, is 400 invalid_request.
std::optional<std::string> idempotency_key(const Request& req);

// What identifies "the same request": method, path and the JSON body with object keys sorted
// (so whitespace and key order do not matter; a body that is not JSON counts byte for byte).
// 32 hex characters (128 bits).
std::string request_fingerprint(std::string_view method, std::string_view path,
                                std::string_view body);

// `inner` with Idempotency-Key support.
Handler idempotent(Handler inner, services::IdempotencyStore& store);

}  // namespace userservice::http
