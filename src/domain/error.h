#pragma once
// The one error type that crosses layers. `message` may be shown to callers;
// `detail` is for logs only (SQL states, hostnames, driver text).
#include <exception>
#include <string>
#include <string_view>

namespace userservice::domain {

enum class ErrorCode {
  invalid_request,
  subject_not_found,
  not_found,
  method_not_allowed,
  conflict,
  policy_denied,
  request_too_large,
  unsupported_media_type,
  service_unavailable,
  deadline_exceeded,
  internal_error,
};

// The wire name of a code, as in api.md §1 ("subject_not_found", ...).
std::string_view to_string(ErrorCode code) noexcept;

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message, std::string detail = {})
      : code_(code), message_(std::move(message)), detail_(std::move(detail)) {}

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& detail() const noexcept { return detail_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ErrorCode code_;
  std::string message_;
  std::string detail_;
};

inline Error invalid_request(std::string message) {
  return Error(ErrorCode::invalid_request, std::move(message));
}

}  // namespace userservice::domain
