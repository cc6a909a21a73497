#include "adapters/http/message.h"

#include <gtest/gtest.h>

namespace userservice::http {
namespace {

using domain::Error;
using domain::ErrorCode;

TEST(HttpStatusMap, EveryErrorCode) {
  const std::pair<ErrorCode, unsigned> expected[] = {
      {ErrorCode::invalid_request, 400},
      {ErrorCode::subject_not_found, 404},
      {ErrorCode::not_found, 404},
      {ErrorCode::method_not_allowed, 405},
      {ErrorCode::conflict, 409},
      {ErrorCode::policy_denied, 409},
      {ErrorCode::request_too_large, 413},
      {ErrorCode::unsupported_media_type, 415},
      {ErrorCode::service_unavailable, 503},
      {ErrorCode::deadline_exceeded, 504},
      {ErrorCode::internal_error, 500},
  };
  // Keep in step with the enum: internal_error is its last value.
  ASSERT_EQ(std::size(expected), static_cast<std::size_t>(ErrorCode::internal_error) + 1);
  for (auto [code, status] : expected) {
    EXPECT_EQ(to_http_status(code), status) << domain::to_string(code);
  }
}

TEST(ErrorResponse, BodyAndStatus) {
  Response r = error_response(
      Error(ErrorCode::subject_not_found, "user \"x\" does not exist", "secret detail"));
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"subject_not_found","message":"user \"x\" does not exist"}})");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(JsonResponse, Defaults) {
  Response r = json_response(201, R"({"ok":true})");
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
}

TEST(Methods, RoundTrip) {
  for (Method m : {Method::get, Method::head, Method::post, Method::put, Method::patch,
                   Method::delete_, Method::options}) {
    EXPECT_EQ(parse_method(to_string(m)), m);
  }
  EXPECT_EQ(parse_method("get"), Method::other);  // methods are case-sensitive
  EXPECT_EQ(parse_method("BREW"), Method::other);
  EXPECT_EQ(to_string(Method::other), "OTHER");
}

TEST(RequestHeaders, FirstValueByLowerName) {
  Request r;
  r.headers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}};
  EXPECT_EQ(r.header("x-a"), "1");
  EXPECT_EQ(r.header("x-b"), "2");
  EXPECT_EQ(r.header("x-c"), "");
}

}  // namespace
}  // namespace userservice::http
