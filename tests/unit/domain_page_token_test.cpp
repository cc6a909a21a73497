// Opaque page tokens: codec round trips, and every kind of bad token is invalid_request.
#include "domain/page_token.h"

#include <gtest/gtest.h>

#include <set>

#include "domain/error.h"

using namespace userservice::domain;

namespace {

const std::string kScope = "history/sanctions/user-01jd0000000000000000000000";

bool rejected(std::string_view scope, std::string_view token) {
  try {
    decode_record_cursor(scope, token);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    EXPECT_EQ(e.message(), "page_token is invalid");
    return true;
  }
  return false;
}

}  // namespace

TEST(SipHash, ReferenceVectors) {
  // Aumasson & Bernstein, "SipHash: a fast short-input PRF", appendix A: key 00..0f.
  std::array<std::uint8_t, 16> key{};
  for (int i = 0; i < 16; ++i) key[i] = static_cast<std::uint8_t>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i) msg += static_cast<char>(i);
  EXPECT_EQ(siphash24(key, msg), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(key, ""), 0x726fdb47dd0e0e31ULL);
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    auto text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    auto back = base64url_decode(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, bytes);
    bytes += static_cast<char>(n * 37 + 250);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64Url, DecodeIsStrict) {
  EXPECT_FALSE(base64url_decode("AB=="));  // padding
  EXPECT_FALSE(base64url_decode("A+B/"));  // the other alphabet
  EXPECT_FALSE(base64url_decode("A"));     // impossible length
  EXPECT_FALSE(base64url_decode("AB"));    // non-zero trailing bits ("AA" is canonical)
  EXPECT_TRUE(base64url_decode("AA"));
  EXPECT_FALSE(base64url_decode("AA AA"));
}

TEST(PageToken, CursorRoundTrips) {
  for (std::int64_t id : {std::int64_t{1}, std::int64_t{42}, std::int64_t{1} << 40, INT64_MAX}) {
    auto token = encode_record_cursor(kScope, id);
    EXPECT_LT(token.size(), 40u);
    EXPECT_EQ(
        token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_EQ(decode_record_cursor(kScope, token), id);
  }
}

TEST(PageToken, ForeignScopeIsRejected) {
  auto token = encode_record_cursor(kScope, 7);
  EXPECT_TRUE(rejected("history/sanctions/user-other", token));
  EXPECT_TRUE(rejected("history/limits/user-01jd0000000000000000000000", token));
  EXPECT_TRUE(rejected("", token));
  EXPECT_FALSE(rejected(kScope, token));
}

TEST(PageToken, EverySingleBitFlipIsRejected) {
  auto raw = *base64url_decode(encode_record_cursor(kScope, 123456));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = raw;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      EXPECT_TRUE(rejected(kScope, base64url_encode(t))) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(PageToken, MalformedTokensAreRejected) {
  auto token = encode_record_cursor(kScope, 99);
  EXPECT_TRUE(rejected(kScope, ""));
  EXPECT_TRUE(rejected(kScope, "null"));
  EXPECT_TRUE(rejected(kScope, "!!!!"));
  EXPECT_TRUE(rejected(kScope, token + "A"));
  EXPECT_TRUE(rejected(kScope, token.substr(0, token.size() - 1)));
  EXPECT_TRUE(rejected(kScope, token.substr(1)));
  EXPECT_TRUE(rejected(kScope, std::string(10000, 'A')));
  // Another version byte with a correct-looking length.
  auto raw = *base64url_decode(token);
  raw[0] = 2;
  EXPECT_TRUE(rejected(kScope, base64url_encode(raw)));
  // A token sealed for the scope but with a payload that is not a cursor.
  EXPECT_TRUE(rejected(kScope, seal_page_token(kScope, "abc")));
  EXPECT_TRUE(rejected(kScope, seal_page_token(kScope, std::string(8, '\0'))));  // id 0
}

TEST(PageToken, SealAndOpenKeepArbitraryPayloads) {
  const std::string payload("\x00\x01listing\xff", 11);
  auto token = seal_page_token("listing", payload);
  EXPECT_EQ(open_page_token("listing", token), payload);
  EXPECT_FALSE(open_page_token("listing2", token));
  // Scope and payload boundaries cannot be shifted into each other.
  EXPECT_FALSE(open_page_token("listingx", seal_page_token("listing", "x")));
  std::set<std::string> distinct;
  for (int i = 1; i <= 100; ++i) distinct.insert(encode_record_cursor(kScope, i));
  EXPECT_EQ(distinct.size(), 100u);
}

// A forged listing token (the key is in the public source) with a time the service never
// stores — beyond what a nanosecond time point holds — is invalid, never an overflow.
TEST(PageToken, ListingCursorTimesOutsideWhatTheServiceStoresAreRejected) {
  const std::string scope = "listing/forged";
  const std::string user = "user-01m8a0n606g7v59x02jnpj8nq8";
  for (std::int64_t us : {INT64_MIN, INT64_MAX, INT64_MAX / 1000 + 1, -(INT64_MAX / 1000) - 1}) {
    const auto token = encode_keyset_cursor(scope, KeysetCursor{us, user, 0});
    try {
      decode_keyset_cursor(scope, token);
      ADD_FAILURE() << "accepted created_at_us " << us;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    }
  }
  const auto ok = decode_keyset_cursor(
      scope, encode_keyset_cursor(scope, KeysetCursor{1764000000000000, user, 1}));
  EXPECT_EQ(ok.created_at_us, 1764000000000000);
}
