#pragma once
// Strict request-body decoding (api.md §1): the body must be one JSON object; every field
// has the declared type; unknown fields are rejected so that a caller's typo never
// silently does nothing. Every failure is domain::Error(invalid_request) naming the field.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace userservice::http {

// A JSON field that may be absent, present as null, or present with a value.
template <typename T>
struct Nullable {
  bool present = false;
  std::optional<T> value;  // nullopt with present=true: explicit null
};

class ObjectReader {
 public:
  // `path` prefixes field names in messages ("registration_context.").
  explicit ObjectReader(const boost::json::object& obj, std::string path = "")
      : obj_(obj), path_(std::move(path)) {}

  std::string required_string(std::string_view name);
  std::optional<std::string> optional_string(
      std::string_view name);                                    // absent → nullopt; null → 400
  Nullable<std::string> nullable_string(std::string_view name);  // absent / null / value
  std::optional<bool> optional_bool(std::string_view name);
  std::int64_t required_int(std::string_view name);
  std::optional<std::int64_t> optional_int(std::string_view name);
  std::vector<std::string> required_string_array(std::string_view name);
  // A nested object: nullopt when absent; null is rejected.
  std::optional<ObjectReader> optional_object(std::string_view name);
  ObjectReader required_object(std::string_view name);

  bool has(std::string_view name) const { return obj_.contains(name); }
  // Rejects every field that no accessor asked for. Call once, after reading.
  void finish() const;

 private:
  const boost::json::value* find(std::string_view name);
  std::string full(std::string_view name) const { return path_ + std::string(name); }

  const boost::json::object& obj_;
  std::string path_;
  std::vector<std::string_view> seen_;
};

// Parses the whole body as one JSON object (an empty body, malformed JSON, or any
// other JSON type is 400). The returned value owns the storage ObjectReader refers to.
boost::json::value parse_body_object(std::string_view body);

}  // namespace userservice::http
