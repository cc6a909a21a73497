#include "domain/user_name.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "domain/error.h"
#include "domain/random.h"

using namespace userservice::domain;

namespace {

// Replays a fixed sequence (cyclically) so minted names are predictable.
class SequenceRandom final : public RandomSource {
 public:
  explicit SequenceRandom(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::uint64_t next_u64() override { return values_[next_++ % values_.size()]; }
  std::size_t draws() const { return next_; }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t next_ = 0;
};

// The smallest 64-bit draw that uniform_below(…, 36) maps to `index`.
std::uint64_t draw_for(unsigned index) {
  const unsigned __int128 r = ((static_cast<unsigned __int128>(index) << 64) + 35) / 36;
  return static_cast<std::uint64_t>(r);
}

std::string rejection(std::string_view name) {
  try {
    require_valid_user_name(name);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    EXPECT_NE(e.message().find("user_name"), std::string::npos) << e.message();
    return e.message();
  }
  return "";
}

}  // namespace

TEST(DomainUserName, MintMapsDrawsToAlphabet) {
  SequenceRandom zeros({0});
  EXPECT_EQ(mint_user_name(zeros), "player-aaaaaa");
  EXPECT_EQ(zeros.draws(), 6u);

  SequenceRandom max({~std::uint64_t{0}});
  EXPECT_EQ(mint_user_name(max), "player-999999");

  SequenceRandom seq(
      {draw_for(7), draw_for(33), draw_for(2), draw_for(26), draw_for(10), draw_for(23)});
  EXPECT_EQ(mint_user_name(seq), "player-h7c0kx");
}

TEST(DomainUserName, MintedNamesAreValidAndVaried) {
  Xoshiro256Random random(42);
  std::set<std::string> seen;
  std::array<int, 36> histogram{};
  const std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 20000; ++i) {
    const std::string name = mint_user_name(random);
    ASSERT_EQ(name.size(), 13u);
    ASSERT_EQ(name.substr(0, 7), "player-");
    for (char c : name.substr(7)) {
      const auto at = alphabet.find(c);
      ASSERT_NE(at, std::string_view::npos) << name;
      ++histogram[at];
    }
    ASSERT_TRUE(is_valid_user_name(name)) << name;
    seen.insert(name);
  }
  EXPECT_GT(seen.size(), 19990u);  // 36^6 space: a handful of clashes at most
  // 120000 characters over 36 symbols: ~3333 each; every symbol well represented.
  for (int count : histogram) {
    EXPECT_GT(count, 3000);
    EXPECT_LT(count, 3700);
  }
}

TEST(DomainUserName, AcceptsTheGrammar) {
  for (std::string_view ok :
       {"abc", "Abc", "a_-", "Z99", "pilot_One-2", "player-7h2k9x",
        "abcdefghijklmnopqrstuvwx" /* 24 */, "Admins", "rooted", "xroot", "galaxy1", "admin_"}) {
    EXPECT_TRUE(is_valid_user_name(ok)) << ok;
    EXPECT_NO_THROW(require_valid_user_name(ok)) << ok;
  }
}

TEST(DomainUserName, RejectsWrongLength) {
  EXPECT_NE(rejection("").find("3-24"), std::string::npos);
  EXPECT_NE(rejection("ab").find("3-24"), std::string::npos);
  EXPECT_NE(rejection("abcdefghijklmnopqrstuvwxy").find("3-24"), std::string::npos);  // 25
}

TEST(DomainUserName, RejectsBadFirstCharacter) {
  for (std::string_view bad : {"1abc", "_abc", "-abc", " abc",
                               "\xC3\xA4"
                               "bc"}) {
    EXPECT_NE(rejection(bad).find("start with a letter"), std::string::npos) << bad;
  }
}

TEST(DomainUserName, RejectsBadCharacters) {
  for (std::string_view bad : {"ab c", "ab.c", "ab@c", "abc\n", "ab\xC3\xA4", "ab+c", "ab/c"}) {
    EXPECT_NE(rejection(bad).find("only letters"), std::string::npos) << bad;
  }
  EXPECT_FALSE(is_valid_user_name(std::string("ab\0c", 4)));
}

TEST(DomainUserName, RejectsReservedNamesInAnyCase) {
  for (std::string_view reserved :
       {"admin", "ADMIN", "Admin", "administrator", "AdMiNiStRaToR", "system", "SYSTEM", "support",
        "Support", "moderator", "MODERATOR", "root", "Root", "galaxy", "GALAXY"}) {
    EXPECT_TRUE(is_reserved_user_name(reserved)) << reserved;
    EXPECT_FALSE(is_valid_user_name(reserved)) << reserved;
    EXPECT_NE(rejection(reserved).find("reserved"), std::string::npos) << reserved;
  }
  EXPECT_FALSE(is_reserved_user_name("admin1"));
  EXPECT_FALSE(is_reserved_user_name("adm"));
  EXPECT_FALSE(is_reserved_user_name("roots"));
}

TEST(DomainUserName, KeyIsAsciiLowerCase) {
  EXPECT_EQ(user_name_key("Pilot_One-2"), "pilot_one-2");
  EXPECT_EQ(user_name_key("pilot"), user_name_key("PILOT"));
}
