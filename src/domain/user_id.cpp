#include "domain/user_id.h"

#include "domain/error.h"

namespace userservice::domain {

bool is_well_formed_user_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void require_well_formed_user_id(std::string_view id) {
  if (!is_well_formed_user_id(id)) {
    throw invalid_request("user_id must be 1-64 characters of [A-Za-z0-9_-]");
  }
}

}  // namespace userservice::domain
