#include "domain/user_name.h"

#include <array>

#include "domain/error.h"

namespace userservice::domain {
namespace {

constexpr std::string_view kMintPrefix = "player-";
constexpr std::string_view kMintAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::size_t kMintRandomChars = 6;

constexpr std::size_t kMinLength = 3;
constexpr std::size_t kMaxLength = 24;

constexpr std::array<std::string_view, 7> kReserved = {
    "admin", "administrator", "system", "support", "moderator", "root", "galaxy"};

constexpr bool is_ascii_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals_ascii(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != lower[i]) return false;
  }
  return true;
}

const char* shape_problem(std::string_view name) noexcept {
  if (name.size() < kMinLength || name.size() > kMaxLength) {
    return "user_name must be 3-24 characters long";
  }
  if (!is_ascii_letter(name.front())) return "user_name must start with a letter (A-Z, a-z)";
  for (char c : name) {
    if (!(is_ascii_letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return "user_name may contain only letters, digits, '_' and '-'";
    }
  }
  return nullptr;
}

}  // namespace

std::string mint_user_name(RandomSource& random) {
  std::string name(kMintPrefix.size() + kMintRandomChars, '\0');
  kMintPrefix.copy(name.data(), kMintPrefix.size());
  for (std::size_t i = kMintPrefix.size(); i < name.size(); ++i) {
    name[i] =
        kMintAlphabet[uniform_below(random, static_cast<std::uint32_t>(kMintAlphabet.size()))];
  }
  return name;
}

bool is_reserved_user_name(std::string_view name) noexcept {
  for (std::string_view reserved : kReserved) {
    if (iequals_ascii(name, reserved)) return true;
  }
  return false;
}

bool is_valid_user_name(std::string_view name) noexcept {
  return shape_problem(name) == nullptr && !is_reserved_user_name(name);
}

void require_valid_user_name(std::string_view name) {
  if (const char* problem = shape_problem(name)) throw invalid_request(problem);
  if (is_reserved_user_name(name)) throw invalid_request("user_name is reserved");
}

std::string user_name_key(std::string_view name) {
  std::string key(name);
  for (char& c : key) c = ascii_lower(c);
  return key;
}

}  // namespace userservice::domain
