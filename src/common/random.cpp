#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace userservice::common {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

}  // namespace

Xoshiro256Random::Xoshiro256Random(std::uint64_t seed) noexcept {
  for (auto& word : s_) word = splitmix64(seed);
}

Xoshiro256Random Xoshiro256Random::from_os_entropy() {
  // Called once at startup. getrandom(2) reads the kernel CSPRNG without a file
  // descriptor and blocks only until the pool is first initialised at boot.
  std::array<std::uint64_t, 4> state{};
  auto* bytes = reinterpret_cast<unsigned char*>(state.data());
  std::size_t filled = 0;
  while (filled < sizeof(state)) {
    const ssize_t n = ::getrandom(bytes + filled, sizeof(state) - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    filled += static_cast<std::size_t>(n);
  }
  // xoshiro's one unusable state is all zeros (it would only ever yield zeros).
  if ((state[0] | state[1] | state[2] | state[3]) == 0) state[0] = 1;
  return Xoshiro256Random(state);
}

std::uint64_t Xoshiro256Random::next_u64() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

Xoshiro256Random& thread_random() {
  thread_local Xoshiro256Random random = Xoshiro256Random::from_os_entropy();
  return random;
}

void assign_random_hex_id(std::string& out, std::size_t n, RandomSource& random) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.assign(n, '0');
  // A random id is all zeros with negligible probability; draw again then.
  while (n > 0 && out.find_first_not_of('0') == std::string::npos) {
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 16 == 0) bits = random.next_u64();
      out[i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
}

std::string random_hex_id(std::size_t n, RandomSource& random) {
  std::string out;
  assign_random_hex_id(out, n, random);
  return out;
}

std::uint32_t uniform_below(RandomSource& random, std::uint32_t bound) {
  const unsigned __int128 product =
      static_cast<unsigned __int128>(random.next_u64()) * static_cast<unsigned __int128>(bound);
  return static_cast<std::uint32_t>(product >> 64);
}

}  // namespace userservice::common
