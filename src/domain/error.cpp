#include "domain/error.h"

namespace userservice::domain {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request:
      return "invalid_request";
    case ErrorCode::subject_not_found:
      return "subject_not_found";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::method_not_allowed:
      return "method_not_allowed";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::policy_denied:
      return "policy_denied";
    case ErrorCode::request_too_large:
      return "request_too_large";
    case ErrorCode::unsupported_media_type:
      return "unsupported_media_type";
    case ErrorCode::service_unavailable:
      return "service_unavailable";
    case ErrorCode::deadline_exceeded:
      return "deadline_exceeded";
    case ErrorCode::internal_error:
      return "internal_error";
  }
  return "internal_error";
}

}  // namespace userservice::domain
