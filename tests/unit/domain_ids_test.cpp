#include "domain/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "domain/random.h"
#include "domain/user_id.h"

using namespace userservice::domain;
using namespace std::chrono_literals;
using std::chrono::system_clock;

namespace {

class SequenceRandom final : public RandomSource {
 public:
  explicit SequenceRandom(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::uint64_t next_u64() override { return values_[next_++ % values_.size()]; }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t next_ = 0;
};

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";

system_clock::time_point at_ms(std::int64_t ms) {
  return system_clock::time_point(std::chrono::milliseconds(ms));
}

std::string encode(std::uint64_t ms, std::uint16_t hi, std::uint64_t lo) {
  std::string out(kUlidLength, '?');
  encode_ulid(ms, hi, lo, out.data());
  return out;
}

}  // namespace

TEST(DomainIds, EncodesUlidBitsInCrockfordBase32) {
  EXPECT_EQ(encode(0, 0, 0), std::string(26, '0'));
  EXPECT_EQ(encode((1ULL << 48) - 1, 0xffff, ~0ULL), "7zzzzzzzzzzzzzzzzzzzzzzzzz");
  // The ULID specification's example: 1469918176385 ms -> "01ARYZ6S41".
  EXPECT_EQ(encode(1469918176385ULL, 0, 0).substr(0, 10), "01aryz6s41");
  // Random part: the low 80 bits, last character = lowest 5 bits.
  EXPECT_EQ(encode(0, 0, 1), "00000000000000000000000001");
  EXPECT_EQ(encode(0, 0, 31), "0000000000000000000000000z");
  EXPECT_EQ(encode(0, 0, 32), "00000000000000000000000010");
  EXPECT_EQ(encode(0, 0xffff, ~0ULL), "0000000000zzzzzzzzzzzzzzzz");
  // Time starts exactly at character 10: 1 ms is bit 80 = 5 * 16, the last time digit.
  EXPECT_EQ(encode(1, 0, 0), "00000000010000000000000000");
}

TEST(DomainIds, MintUsesTimeAndTwoDraws) {
  SequenceRandom random({0x0123456789abcdefULL, 0xfedcba9876540000ULL | 0xbeef});
  const std::string id = mint_user_id(at_ms(1469918176385), random);
  EXPECT_EQ(id,
            std::string("user-").append(encode(1469918176385ULL, 0xbeef, 0x0123456789abcdefULL)));
  EXPECT_EQ(id.substr(0, 15), "user-01aryz6s41");
}

TEST(DomainIds, UserIdShape) {
  Xoshiro256Random random(1);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = mint_user_id(system_clock::now(), random);
    ASSERT_EQ(id.size(), 31u);
    ASSERT_EQ(id.substr(0, 5), "user-");
    ASSERT_LE(id[5], '7');  // 128 bits in 130: the first character carries 3 bits
    for (char c : id.substr(5)) ASSERT_NE(kAlphabet.find(c), std::string_view::npos) << id;
    ASSERT_TRUE(is_well_formed_user_id(id)) << id;
  }
}

TEST(DomainIds, EventIdShape) {
  Xoshiro256Random random(2);
  const std::string id = mint_event_id(at_ms(1700000000000), random);
  ASSERT_EQ(id.size(), 30u);
  EXPECT_EQ(id.substr(0, 4), "evt-");
  for (char c : id.substr(4)) EXPECT_NE(kAlphabet.find(c), std::string_view::npos) << id;
  EXPECT_EQ(id.substr(4, 10), mint_user_id(at_ms(1700000000000), random).substr(5, 10));
}

TEST(DomainIds, LaterMillisecondSortsAfterRegardlessOfRandomBits) {
  // Earlier id gets all-ones random bits, later one all zeros: time must dominate.
  SequenceRandom high({~0ULL}), low({0});
  for (std::int64_t ms : {0LL, 1LL, 31LL, 32LL, 1469918176385LL, 1764092302123LL,
                          9'000'000'000'000LL /* 2255, near the clock's end */}) {
    const std::string earlier = mint_user_id(at_ms(ms), high);
    const std::string later = mint_user_id(at_ms(ms + 1), low);
    EXPECT_LT(earlier, later) << ms;
  }
}

TEST(DomainIds, SortOrderFollowsTimeOverManyMints) {
  Xoshiro256Random random(3);
  std::vector<std::pair<std::int64_t, std::string>> minted;
  std::int64_t ms = 1'600'000'000'000;
  for (int i = 0; i < 5000; ++i) {
    ms += 1 + static_cast<std::int64_t>(random.next_u64() % 100'000'000);
    minted.emplace_back(ms, mint_event_id(at_ms(ms), random));
  }
  std::vector<std::pair<std::int64_t, std::string>> by_id = minted;
  std::shuffle(by_id.begin(), by_id.end(), std::mt19937(7));
  std::sort(by_id.begin(), by_id.end(), [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_EQ(by_id, minted);
}

TEST(DomainIds, UniqueOver100kMintsInOneMillisecond) {
  auto random = Xoshiro256Random::from_os_entropy();
  const auto now = system_clock::now();
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(seen.insert(mint_user_id(now, random)).second) << "duplicate at " << i;
  }
}

TEST(DomainIds, SubMillisecondTimeIsTruncated) {
  SequenceRandom a({5}), b({5});
  EXPECT_EQ(mint_user_id(at_ms(1000) + 999us, a), mint_user_id(at_ms(1000), b));
}

TEST(DomainIds, TimesBefore1970ClampToZero) {
  SequenceRandom random({0});
  EXPECT_EQ(mint_user_id(at_ms(-5), random), "user-00000000000000000000000000");
}
