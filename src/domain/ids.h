#pragma once
// Minted identifiers: a prefix plus a ULID (48-bit Unix-millisecond timestamp, then
// 80 random bits) written as 26 lowercase Crockford base32 characters. Ids minted in
// a later millisecond sort after earlier ones byte-wise; ids within one millisecond
// are in random order (no per-process monotonic counter: the listing breaks
// created_at ties by user_id, and any fixed order is fine for that).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/random.h"

namespace userservice::domain {

inline constexpr std::size_t kUlidLength = 26;

// "user-" + ULID: 31 characters of [a-z0-9-], so always a well-formed user id.
std::string mint_user_id(std::chrono::system_clock::time_point now, RandomSource& random);

// "evt-" + ULID: the event_id of a stream entry (consumers de-duplicate on it).
std::string mint_event_id(std::chrono::system_clock::time_point now, RandomSource& random);

// prefix + ULID. Times before 1970 clamp to 0 (a ULID cannot hold them).
std::string mint_ulid_id(std::string_view prefix, std::chrono::system_clock::time_point now,
                         RandomSource& random);

// Writes the 26 ULID characters for (ms, the low 80 bits of random_hi:random_lo) to
// `out`. Exposed for tests of the encoding.
void encode_ulid(std::uint64_t unix_ms, std::uint16_t random_hi, std::uint64_t random_lo,
                 char* out) noexcept;

}  // namespace userservice::domain
