#include "domain/ids.h"

namespace userservice::domain {
namespace {

// Crockford's base32 (no i, l, o, u), lower case to match the user_id examples in
// api.md. Its order is ASCII order, which is what makes the ids sort by time.
constexpr char kCrockford[] = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::uint64_t kMaxUlidMs = (std::uint64_t{1} << 48) - 1;

}  // namespace

void encode_ulid(std::uint64_t unix_ms, std::uint16_t random_hi, std::uint64_t random_lo,
                 char* out) noexcept {
  // 128 bits = 48 time + 80 random; 26 chars * 5 bits = 130, so the first character
  // carries only the top 3 bits (always 0-7).
  const unsigned __int128 value = (static_cast<unsigned __int128>(unix_ms & kMaxUlidMs) << 80) |
                                  (static_cast<unsigned __int128>(random_hi) << 64) | random_lo;
  unsigned __int128 rest = value;
  for (std::size_t i = kUlidLength; i-- > 0;) {
    out[i] = kCrockford[static_cast<unsigned>(rest) & 31u];
    rest >>= 5;
  }
}

std::string mint_ulid_id(std::string_view prefix, std::chrono::system_clock::time_point now,
                         RandomSource& random) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::uint64_t unix_ms =
      ms < 0 ? 0
             : (static_cast<std::uint64_t>(ms) > kMaxUlidMs ? kMaxUlidMs
                                                            : static_cast<std::uint64_t>(ms));
  const std::uint64_t random_lo = random.next_u64();
  const auto random_hi = static_cast<std::uint16_t>(random.next_u64());
  std::string id(prefix.size() + kUlidLength, '\0');
  prefix.copy(id.data(), prefix.size());
  encode_ulid(unix_ms, random_hi, random_lo, id.data() + prefix.size());
  return id;
}

std::string mint_user_id(std::chrono::system_clock::time_point now, RandomSource& random) {
  return mint_ulid_id("user-", now, random);
}

std::string mint_event_id(std::chrono::system_clock::time_point now, RandomSource& random) {
  return mint_ulid_id("evt-", now, random);
}

}  // namespace userservice::domain
