// Request bodies: parse_body_object (one JSON object, depth ≤ 16, clean strings) and the
// strict field reader every handler uses. The first byte picks which accessor reads each
// member, so every accessor meets every JSON type.
//
// Oracles: only domain::Error(invalid_request) with a clean message escapes; an accepted
// document is an object no deeper than the limit whose strings are all valid UTF-8 without NUL;
// finish() rejects exactly the members no accessor asked for.
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/http/json_body.h"
#include "support/check.h"

using namespace userservice;
namespace json = boost::json;

namespace {

int depth(const json::value& v) {
  int d = 0;
  if (v.is_array()) {
    for (const auto& e : v.get_array()) d = std::max(d, depth(e));
    return d + 1;
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) d = std::max(d, depth(kv.value()));
    return d + 1;
  }
  return 0;
}

bool clean(const json::value& v) {
  if (v.is_string()) return is_clean_text(v.get_string());
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (!clean(e)) return false;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (!is_clean_text(kv.key()) || !clean(kv.value())) return false;
    }
  }
  return true;
}

// Reads every member with accessor `how` (rotating per member); recurses into objects.
void read_all(http::ObjectReader& r, const json::object& obj, unsigned how, int level) {
  unsigned k = how;
  for (const auto& kv : obj) {
    const std::string_view name = kv.key();
    try {
      switch (k++ % 9) {
        case 0:
          (void)r.required_string(name);
          break;
        case 1:
          (void)r.optional_string(name);
          break;
        case 2:
          (void)r.nullable_string(name);
          break;
        case 3:
          (void)r.optional_bool(name);
          break;
        case 4:
          (void)r.required_int(name);
          break;
        case 5:
          (void)r.optional_int(name);
          break;
        case 6:
          (void)r.required_string_array(name);
          break;
        case 7:
          if (auto sub = r.optional_object(name); sub && level < 4) {
            read_all(*sub, kv.value().get_object(), how + 1, level + 1);
          }
          break;
        default:
          if (level < 4) {
            http::ObjectReader sub = r.required_object(name);
            read_all(sub, kv.value().get_object(), how + 1, level + 1);
          } else {
            (void)r.optional_object(name);  // deep enough: ask for the member, skip its inside
          }
          break;
      }
    } catch (const domain::Error& e) {
      fuzz::check_client_error(e);
    }
  }
  // Every member was asked for: nothing is left for finish() to reject.
  try {
    r.finish();
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    FUZZ_CHECK(false);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned how = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  json::value doc;
  try {
    doc = http::parse_body_object(body);
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
    return 0;
  }
  FUZZ_CHECK(doc.is_object());
  FUZZ_CHECK(depth(doc) <= 16);
  FUZZ_CHECK(clean(doc));

  http::ObjectReader reader(doc.get_object(), "body.");
  read_all(reader, doc.get_object(), how, 0);

  // A reader that asked for nothing rejects the first member, naming it.
  http::ObjectReader idle(doc.get_object());
  try {
    idle.finish();
    FUZZ_CHECK(doc.get_object().empty());
  } catch (const domain::Error& e) {
    fuzz::check_client_error(e);
  }
  return 0;
}
