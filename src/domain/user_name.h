#pragma once
// Public user names (api.md §2).
#include <string>
#include <string_view>

#include "domain/random.h"

namespace userservice::domain {

// "player-" followed by 6 random characters of [a-z0-9], given to every new account.
// 36^6 ≈ 2.2e9 possibilities: a clash with an existing name is rare but possible, so
// the store must retry with a fresh name on a uniqueness conflict.
std::string mint_user_name(RandomSource& random);

// ^[A-Za-z][A-Za-z0-9_-]{2,23}$ and not a reserved name (admin, administrator, system,
// support, moderator, root, galaxy; compared case-insensitively).
bool is_valid_user_name(std::string_view name) noexcept;
bool is_reserved_user_name(std::string_view name) noexcept;

// Throws Error(invalid_request) naming the failed rule.
void require_valid_user_name(std::string_view name);

// ASCII lower case: the form uniqueness is checked on ("Pilot" and "pilot" clash).
std::string user_name_key(std::string_view name);

}  // namespace userservice::domain
