// The one escaper every output goes through. Oracles: the escaped text inside quotes is one
// valid JSON string (checked by Boost.JSON) that decodes to the input when the input is valid
// UTF-8, and to the input with U+FFFD replacements otherwise; utf8_safe agrees with
// is_valid_utf8; is_clean_text is valid UTF-8 without NUL.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/utf8.h"
#include "support/check.h"

using namespace userservice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = is_valid_utf8(text);
  FUZZ_CHECK(is_clean_text(text) == (valid && text.find('\0') == std::string_view::npos));

  std::string scratch;
  const std::string_view safe = utf8_safe(text, scratch);
  FUZZ_CHECK(is_valid_utf8(safe));
  FUZZ_CHECK(valid == (safe.data() == text.data()));

  std::string quoted = "\"";
  append_json_escaped(quoted, text);
  quoted += '"';
  FUZZ_CHECK(is_valid_utf8(quoted));
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(quoted, ec);
  FUZZ_CHECK(!ec && v.is_string());
  FUZZ_CHECK(std::string_view(v.get_string()) == safe);
  return 0;
}
