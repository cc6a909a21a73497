#pragma once
// Small pieces every handler file uses: the JSON request body, the common command fields and
// the query string.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/http/json_body.h"
#include "adapters/http/message.h"
#include "adapters/http/router.h"
#include "common/utf8.h"
#include "domain/catalog.h"
#include "domain/error.h"

namespace userservice::http {

namespace detail {
struct JsonDocument {
  boost::json::value doc;
};
}  // namespace detail

// The request body read as one JSON object (parse_body_object), field by field: the prologue
// of every handler that takes a body. Not copyable or movable: the reader refers into the
// document it owns.
class JsonBody : private detail::JsonDocument, public ObjectReader {
 public:
  explicit JsonBody(const Request& req)
      : detail::JsonDocument{parse_body_object(req.body)}, ObjectReader(doc.get_object()) {}
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;
};

// "actor": {"type": "...", "id": "..."} — both strings, nothing else.
inline domain::Actor read_actor(ObjectReader& body) {
  ObjectReader r = body.required_object("actor");
  domain::Actor actor{r.required_string("type"), r.required_string("id")};
  r.finish();
  return actor;
}

// "a=1&b=2" → percent-decoded pairs in arrival order. '+' stays a literal '+' (as in paths),
// so an RFC 3339 offset may be sent as "+02:00" or "%2B02:00". Empty pairs ("a=1&&b=2") are
// skipped; a name without '=' has an empty value. A bad %-escape is 400 invalid_request.
// Split here rather than by boost::urls::parse_query, whose grammar refuses raw bytes (a space,
// a quote, non-ASCII) that these rules pass on to the text check below, with its own message;
// each name and value is decoded by the one decoder, percent_decode (Boost.URL).
inline std::vector<std::pair<std::string, std::string>> query_pairs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), key) ||
        (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value))) {
      throw domain::invalid_request("query string is malformed");
    }
    // Never echoed into a message, never sent to the database: only UTF-8 text.
    if (!is_clean_text(key) || !is_clean_text(value)) {
      throw domain::invalid_request("query string is not valid UTF-8 or contains NUL");
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace userservice::http
