#pragma once
// Appends JSON to a std::string without building a DOM: response bodies are small and
// written once, so a flat append is both the fastest and the simplest encoder.
//   JsonWriter w; w.begin_object(); w.key("exists"); w.boolean(true); w.end_object();
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/rfc3339.h"
#include "common/utf8.h"

namespace userservice {

class JsonWriter {
 public:
  JsonWriter() { out_.reserve(256); }

  void begin_object() {
    value_prefix();
    out_ += '{';
    first_ = true;
  }
  void end_object() {
    out_ += '}';
    first_ = false;
  }
  void begin_array() {
    value_prefix();
    out_ += '[';
    first_ = true;
  }
  void end_array() {
    out_ += ']';
    first_ = false;
  }

  void key(std::string_view k) {
    if (!first_) out_ += ',';
    out_ += '"';
    append_json_escaped(out_, k);
    out_ += "\":";
    after_key_ = true;
  }

  void string(std::string_view v) {
    value_prefix();
    out_ += '"';
    append_json_escaped(out_, v);
    out_ += '"';
  }
  void null() {
    value_prefix();
    out_ += "null";
  }
  void boolean(bool v) {
    value_prefix();
    out_ += v ? "true" : "false";
  }
  void integer(std::int64_t v) {
    value_prefix();
    out_ += std::to_string(v);
  }
  void time(common::TimePoint tp) {
    value_prefix();
    out_ += '"';
    common::append_rfc3339_millis(out_, tp);
    out_ += '"';
  }

  void optional_string(const std::optional<std::string>& v) { v ? string(*v) : null(); }
  void optional_time(const std::optional<common::TimePoint>& v) { v ? time(*v) : null(); }

  // key + value shorthands
  void field(std::string_view k, std::string_view v) {
    key(k);
    string(v);
  }
  void field(std::string_view k, const char* v) {
    key(k);
    string(v);
  }
  void field(std::string_view k, const std::string& v) {
    key(k);
    string(v);
  }
  void field(std::string_view k, bool v) {
    key(k);
    boolean(v);
  }
  void field(std::string_view k, std::int64_t v) {
    key(k);
    integer(v);
  }
  void field(std::string_view k, common::TimePoint v) {
    key(k);
    time(v);
  }
  void field(std::string_view k, const std::optional<std::string>& v) {
    key(k);
    optional_string(v);
  }
  void field(std::string_view k, const std::optional<common::TimePoint>& v) {
    key(k);
    optional_time(v);
  }

  std::string& str() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void value_prefix() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace userservice
