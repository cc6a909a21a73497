#pragma once
// Email addresses as account keys (api.md §2). Only the shape is checked here;
// whether a mailbox exists is the Auth service's business.
#include <string>
#include <string_view>

namespace userservice::domain {

inline constexpr std::size_t kMaxEmailLength = 254;
inline constexpr std::size_t kMaxEmailLocalPartLength = 64;

// Trims ASCII whitespace at both ends and lower-cases ASCII letters. Other bytes are
// kept as they are (no percent-decoding: "%40" stays literal).
std::string normalize_email(std::string_view raw);

// The normalised email, or Error(invalid_request) naming the rule that failed:
//  - at most 254 characters (after trimming), exactly one '@';
//  - a local part of 1..64 characters;
//  - a domain with at least one dot and no empty label;
//  - no whitespace inside, no control characters, ASCII only.
// Non-ASCII is rejected on purpose: uniqueness is byte-wise on the normalised form,
// and UTF-8 addresses would need Unicode case folding, NFC and IDNA to stop one
// mailbox from owning several accounts (or look-alike spellings from passing as
// distinct). Internationalised domains arrive as ASCII "xn--" labels and pass.
// Quoted local parts ("john doe"@x.org) are not supported for the same reason.
std::string require_valid_email(std::string_view raw);

// Same rules without throwing.
bool is_valid_email(std::string_view raw) noexcept;

}  // namespace userservice::domain
