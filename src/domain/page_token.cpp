#include "domain/page_token.h"

#include <limits>

#include "domain/error.h"
#include "domain/user_id.h"

namespace userservice::domain {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kTagSize = 8;

// Built-in tag key (see the header: integrity, not secrecy). Changing it invalidates every
// token in flight, so it only changes together with kVersion.
constexpr std::array<std::uint8_t, 16> kTokenKey = {0x75, 0x73, 0x65, 0x72, 0x73, 0x76, 0x63, 0x2d,
                                                    0x70, 0x61, 0x67, 0x65, 0x2d, 0x74, 0x6b, 0x31};

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int alphabet_index(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::uint64_t rotl(std::uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The tag input: version, scope length (so scope/payload boundaries cannot shift), scope,
// payload.
std::string tag_input(std::string_view scope, std::string_view payload) {
  std::string in;
  in.reserve(5 + scope.size() + payload.size());
  in += static_cast<char>(kVersion);
  const auto n = static_cast<std::uint32_t>(scope.size());
  for (int i = 0; i < 4; ++i) in += static_cast<char>((n >> (8 * i)) & 0xff);
  in += scope;
  in += payload;
  return in;
}

void append_le64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::string_view data) noexcept {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  std::uint64_t v3 = 0x7465646279746573ULL ^ k1;
  auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t n = data.size();
  const std::size_t full = n - n % 8;
  for (std::size_t i = 0; i < full; i += 8) {
    const std::uint64_t m = load_le64(p + i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t i = 0; i < n % 8; ++i)
    last |= static_cast<std::uint64_t>(p[full + i]) << (8 * i);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to that length
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = alphabet_index(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero: otherwise two texts would decode to the same bytes.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string seal_page_token(std::string_view scope, std::string_view payload) {
  std::string raw;
  raw.reserve(1 + payload.size() + kTagSize);
  raw += static_cast<char>(kVersion);
  raw += payload;
  append_le64(raw, siphash24(kTokenKey, tag_input(scope, payload)));
  return base64url_encode(raw);
}

std::optional<std::string> open_page_token(std::string_view scope, std::string_view token) {
  if (token.empty() || token.size() > kMaxPageTokenLength) return std::nullopt;
  auto raw = base64url_decode(token);
  if (!raw || raw->size() < 1 + kTagSize) return std::nullopt;
  if (static_cast<std::uint8_t>((*raw)[0]) != kVersion) return std::nullopt;
  std::string_view body(*raw);
  std::string_view payload = body.substr(1, body.size() - 1 - kTagSize);
  std::string expected;
  append_le64(expected, siphash24(kTokenKey, tag_input(scope, payload)));
  // Not constant-time on purpose: the tag protects integrity of a non-secret cursor.
  if (body.substr(body.size() - kTagSize) != expected) return std::nullopt;
  return std::string(payload);
}

std::string encode_record_cursor(std::string_view scope, std::int64_t record_id) {
  std::string payload;
  append_le64(payload, static_cast<std::uint64_t>(record_id));
  return seal_page_token(scope, payload);
}

std::int64_t decode_record_cursor(std::string_view scope, std::string_view token) {
  auto payload = open_page_token(scope, token);
  if (!payload || payload->size() != 8) throw invalid_request("page_token is invalid");
  const auto id =
      static_cast<std::int64_t>(load_le64(reinterpret_cast<const std::uint8_t*>(payload->data())));
  // Record ids are positive identities; anything else was never sealed by us.
  if (id <= 0) throw invalid_request("page_token is invalid");
  return id;
}

// Payload: created_at (8 bytes, little-endian two's complement) | lane (1 byte) | user_id.
std::string encode_keyset_cursor(std::string_view scope, const KeysetCursor& cursor) {
  std::string payload;
  payload.reserve(9 + cursor.user_id.size());
  append_le64(payload, static_cast<std::uint64_t>(cursor.created_at_us));
  payload += static_cast<char>(cursor.lane);
  payload += cursor.user_id;
  return seal_page_token(scope, payload);
}

KeysetCursor decode_keyset_cursor(std::string_view scope, std::string_view token) {
  auto payload = open_page_token(scope, token);
  if (!payload || payload->size() <= 9) throw invalid_request("page_token is invalid");
  KeysetCursor cursor;
  cursor.created_at_us =
      static_cast<std::int64_t>(load_le64(reinterpret_cast<const std::uint8_t*>(payload->data())));
  cursor.lane = static_cast<std::uint8_t>((*payload)[8]);
  cursor.user_id = payload->substr(9);
  // Only ids the service could have stored were ever sealed; anything else is not our token.
  if (!is_well_formed_user_id(cursor.user_id)) throw invalid_request("page_token is invalid");
  // Nor a time the service could have stored: one outside what a nanosecond time point holds
  // (1677 to 2262) would overflow on its way to SQL.
  constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000;
  if (cursor.created_at_us < -kLimit || cursor.created_at_us > kLimit) {
    throw invalid_request("page_token is invalid");
  }
  return cursor;
}

}  // namespace userservice::domain
