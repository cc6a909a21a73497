#pragma once
// Opaque page tokens for keyset-paginated reads (api.md §8 history; usable by the listing).
//
// A token is base64url (no padding) of: version byte (1) | payload | 8-byte tag, where the
// tag is SipHash-2-4 over (version, scope, payload) under a key built into the binary. The
// scope names what the token pages through ("history/sanctions/user-…"), so a token from
// another route or another user fails the tag check exactly like a tampered one: every such
// token is 400, never a 500 or a wrong page. The key is not a secret (the source is public
// and a cursor grants nothing the caller could not read anyway); the tag is there to catch
// corruption and misuse, and the version byte lets the format change later.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace userservice::domain {

// Tokens longer than this are rejected before decoding (a real one is well below it).
inline constexpr std::size_t kMaxPageTokenLength = 512;

std::string seal_page_token(std::string_view scope, std::string_view payload);
// The payload, or nullopt for anything that is not a token this binary sealed for `scope`.
std::optional<std::string> open_page_token(std::string_view scope, std::string_view token);

// History cursors: the record_id of the last item of a page (pages run newest first).
std::string encode_record_cursor(std::string_view scope, std::int64_t record_id);
// Error(invalid_request, "page_token is invalid") unless a cursor sealed for `scope`.
std::int64_t decode_record_cursor(std::string_view scope, std::string_view token);

// Listing cursors (api.md §8 listing): the (created_at, user_id) keyset position of the last
// item of a page. The scope carries the canonical filter set, so a token from another filter
// combination fails the tag check.
struct KeysetCursor {
  std::int64_t created_at_us = 0;  // microseconds since the Unix epoch, as stored
  std::string user_id;
  // Which of several equivalent read sources served the walk's first page, so that the
  // whole walk stays on one (a replica's view only moves forward; another one's may lag).
  std::uint8_t lane = 0;
};
std::string encode_keyset_cursor(std::string_view scope, const KeysetCursor& cursor);
// Error(invalid_request, "page_token is invalid") unless a cursor sealed for `scope` holding a
// well-formed user id.
KeysetCursor decode_keyset_cursor(std::string_view scope, std::string_view token);

// Building blocks, exposed for tests.
std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::string_view data) noexcept;
std::string base64url_encode(std::string_view bytes);
// Strict: the unpadded alphabet only, canonical trailing bits; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace userservice::domain
