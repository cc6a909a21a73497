// The Idempotency-Key header and the request fingerprint (docs/api.md, "Idempotency-Key").
#include <gtest/gtest.h>

#include "adapters/http/idempotency.h"
#include "domain/error.h"

namespace {

using userservice::http::idempotency_key;
using userservice::http::Request;
using userservice::http::request_fingerprint;

Request with_headers(userservice::http::HeaderList headers) {
  Request r;
  r.headers = std::move(headers);
  return r;
}

bool is_invalid(const userservice::http::HeaderList& headers) {
  try {
    idempotency_key(with_headers(headers));
  } catch (const userservice::domain::Error& e) {
    return e.code() == userservice::domain::ErrorCode::invalid_request;
  }
  return false;
}

TEST(IdempotencyKey, AbsentIsNone) {
  EXPECT_FALSE(idempotency_key(with_headers({{"x-request-id", "r1"}})).has_value());
}

TEST(IdempotencyKey, TokenAndStructuredFieldStringForms) {
  EXPECT_EQ(idempotency_key(with_headers({{"idempotency-key", "8e03978e-40d5"}})), "8e03978e-40d5");
  EXPECT_EQ(idempotency_key(with_headers({{"idempotency-key", "\"8e03978e-40d5\""}})),
            "8e03978e-40d5");
  EXPECT_EQ(idempotency_key(with_headers({{"idempotency-key", std::string(255, 'a')}})),
            std::string(255, 'a'));
  EXPECT_EQ(idempotency_key(with_headers({{"idempotency-key", "a:b/c=d+e"}})), "a:b/c=d+e");
}

TEST(IdempotencyKey, MalformedOrRepeatedIsInvalidRequest) {
  EXPECT_TRUE(is_invalid({{"idempotency-key", ""}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "\"\""}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", std::string(256, 'a')}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "two words"}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "tab\there"}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "a\"b"}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "back\\slash"}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "caf\xc3\xa9"}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", std::string("nul\0x", 5)}}));
  EXPECT_TRUE(is_invalid({{"idempotency-key", "a"}, {"idempotency-key", "a"}}));
}

TEST(RequestFingerprint, IgnoresKeyOrderAndWhitespaceButNotValues) {
  const auto a = request_fingerprint("POST", "/x", R"({"a":1,"b":{"c":[1,2],"d":"e"}})");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, request_fingerprint("POST", "/x", R"( { "b" : { "d":"e", "c":[1, 2] }, "a":1 } )"));
  EXPECT_NE(a, request_fingerprint("POST", "/x", R"({"a":2,"b":{"c":[1,2],"d":"e"}})"));
  EXPECT_NE(a, request_fingerprint("POST", "/x", R"({"a":1,"b":{"c":[2,1],"d":"e"}})"));
  EXPECT_NE(a, request_fingerprint("PUT", "/x", R"({"a":1,"b":{"c":[1,2],"d":"e"}})"));
  EXPECT_NE(a, request_fingerprint("POST", "/y", R"({"a":1,"b":{"c":[1,2],"d":"e"}})"));
  // "1" and 1 are different requests; so are a body that is not JSON and one that is.
  EXPECT_NE(request_fingerprint("POST", "/x", R"({"a":"1"})"),
            request_fingerprint("POST", "/x", R"({"a":1})"));
  EXPECT_NE(request_fingerprint("POST", "/x", "{nope"), request_fingerprint("POST", "/x", "{nop"));
  EXPECT_EQ(request_fingerprint("DELETE", "/x", ""), request_fingerprint("DELETE", "/x", ""));
}

}  // namespace
