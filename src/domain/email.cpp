#include "domain/email.h"

#include "common/strings.h"
#include "domain/error.h"

namespace userservice::domain {
namespace {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// nullptr when `email` (already trimmed) is valid, else the client-facing reason.
const char* email_problem(std::string_view email) noexcept {
  if (email.empty()) return "email must not be empty";
  if (email.size() > kMaxEmailLength) return "email must be at most 254 characters";
  std::size_t at = std::string_view::npos;
  for (std::size_t i = 0; i < email.size(); ++i) {
    const auto c = static_cast<unsigned char>(email[i]);
    if (c >= 0x80) return "email must contain only ASCII characters";
    if (c < 0x20 || c == 0x7f) return "email must not contain control characters";
    if (c == ' ') return "email must not contain spaces";
    if (c == '@') {
      if (at != std::string_view::npos) return "email must contain exactly one '@'";
      at = i;
    }
  }
  if (at == std::string_view::npos) return "email must contain exactly one '@'";
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty()) return "email local part must not be empty";
  if (local.size() > kMaxEmailLocalPartLength) {
    return "email local part must be at most 64 characters";
  }
  if (domain.find('.') == std::string_view::npos) {
    return "email domain must contain at least one dot";
  }
  // Labels are the dot-separated pieces: an empty one is a leading, trailing or
  // doubled dot ("a@.b.c", "a@b.c.", "a@b..c").
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return "email domain must not contain empty labels";
  }
  return nullptr;
}

}  // namespace

std::string normalize_email(std::string_view raw) {
  const std::string_view trimmed = trim(raw, kAsciiSpace);
  std::string out(trimmed.size(), '\0');
  for (std::size_t i = 0; i < trimmed.size(); ++i) out[i] = ascii_lower(trimmed[i]);
  return out;
}

std::string require_valid_email(std::string_view raw) {
  // Validate the trimmed view first so that a rejected input costs no allocation;
  // lower-casing cannot change the outcome.
  if (const char* problem = email_problem(trim(raw, kAsciiSpace))) throw invalid_request(problem);
  return normalize_email(raw);
}

bool is_valid_email(std::string_view raw) noexcept {
  return email_problem(trim(raw, kAsciiSpace)) == nullptr;
}

}  // namespace userservice::domain
