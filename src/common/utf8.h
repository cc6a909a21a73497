#pragma once
// UTF-8 and JSON text: the one place that decides what valid UTF-8 is and how text becomes
// the body of a JSON string. Everything the service writes (response bodies, log lines, span
// attributes, OTLP payloads) goes through append_json_escaped or utf8_safe, so what callers,
// log pipelines and collectors receive is valid UTF-8 whatever bytes a request carried.
#include <cstddef>
#include <string>
#include <string_view>

namespace userservice {

// Length of the valid UTF-8 sequence starting at s[i] (1–4), or 0 when there is none: a stray
// continuation byte, an overlong form, a surrogate, a value past U+10FFFF, a cut sequence.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept;

bool is_valid_utf8(std::string_view s) noexcept;

// Text a request may carry into a query or a stored field: valid UTF-8 without NUL.
bool is_clean_text(std::string_view s) noexcept;

// `s`, or a copy in `scratch` with every invalid byte replaced by U+FFFD.
std::string_view utf8_safe(std::string_view s, std::string& scratch);

// Appends `text` to `out` as the body of a JSON string (no quotes added): quotes, backslashes
// and control characters escaped, invalid UTF-8 replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);
// `text` in double quotes, escaped as above: how a message quotes a value it was given
// ("invalid duration \"1x\"") without passing on control characters or invalid UTF-8.
std::string quote_text(std::string_view text);

}  // namespace userservice
