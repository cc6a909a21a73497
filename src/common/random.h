#pragma once
// Randomness for minted identifiers (user ids, event ids, default user names; trace, span and
// request ids). domain/random.h names these in the domain namespace.
// Callers pass a RandomSource& so tests can substitute a deterministic sequence.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace userservice::common {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // 64 uniformly distributed bits.
  virtual std::uint64_t next_u64() = 0;
};

// xoshiro256** (Blackman & Vigna), seeded once from the kernel CSPRNG. Minted ids are
// unique handles, not secrets (knowing one grants nothing), so a fast statistically
// strong PRNG is enough: uniqueness rests on 80 well-mixed bits per millisecond, and a
// 256-bit OS seed keeps separate processes on unrelated streams. Not thread-safe: one
// instance per thread (the event loop owns one).
class Xoshiro256Random final : public RandomSource {
 public:
  // Deterministic: the seed is expanded with splitmix64 (for tests and benchmarks).
  explicit Xoshiro256Random(std::uint64_t seed) noexcept;
  // Production: a 256-bit seed from getrandom(2); throws std::system_error if the
  // kernel cannot supply one (better no start than predictable ids).
  static Xoshiro256Random from_os_entropy();
  // Exact state, for reference vectors. Must not be all zeros.
  static Xoshiro256Random from_state(const std::array<std::uint64_t, 4>& state) noexcept {
    return Xoshiro256Random(state);
  }

  std::uint64_t next_u64() noexcept override;

 private:
  explicit Xoshiro256Random(const std::array<std::uint64_t, 4>& state) noexcept : s_(state) {}
  std::array<std::uint64_t, 4> s_;
};

// The calling thread's generator, seeded with from_os_entropy() on first use: for the ids minted
// where no RandomSource is passed in (trace, span and request ids). Every thread that mints
// (the event loop, the relay, test threads) has its own.
Xoshiro256Random& thread_random();

// `n` random lower-case hex characters, never all zeros (W3C forbids all-zero trace and span
// ids). Not secret: ids only need to be unique.
std::string random_hex_id(std::size_t n, RandomSource& random = thread_random());
// The same, written into `out`'s own buffer (no allocation once `out` has the capacity: a
// connection's request, trace and span ids are re-minted on every request).
void assign_random_hex_id(std::string& out, std::size_t n, RandomSource& random = thread_random());

// A uniformly distributed value in [0, bound) from one 64-bit draw (Lemire's
// multiply-shift; the bias is below bound / 2^64, i.e. immaterial for bound < 2^32).
std::uint32_t uniform_below(RandomSource& random, std::uint32_t bound);

}  // namespace userservice::common
