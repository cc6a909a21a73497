#pragma once
#include <string>
#include <string_view>

namespace userservice::domain {

// api.md §1: a path id that cannot be a user id — empty, over 64 bytes, or with
// characters outside [A-Za-z0-9_-] — is rejected before any lookup.
bool is_well_formed_user_id(std::string_view id) noexcept;

// Throws Error(invalid_request) unless well-formed.
void require_well_formed_user_id(std::string_view id);

}  // namespace userservice::domain
