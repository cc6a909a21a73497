#pragma once
// Structured logs: one JSON object per line on stdout, filtered by level.
//   log.info("listening", {{"addr", "0.0.0.0:8091"}});
// Lines go through a bounded queue to a writer thread (line_writer.h): logging never waits
// for stdout; when the queue is full, lines are dropped and counted.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/log_level.h"
#include "common/utf8.h"

namespace userservice::telemetry {

// Parsed and named in common/log_level.h (the configuration reads it too).
using Level = LogLevel;

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, double, bool>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, std::size_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

using Fields = std::initializer_list<Field>;

class LineWriter;

class Logger {
 public:
  explicit Logger(Level min_level = Level::info, std::FILE* out = stdout,
                  std::size_t max_queued_bytes = 4 << 20);
  ~Logger();  // writes what is queued (for at most a second)

  bool enabled(Level level) const noexcept { return level >= min_; }
  // Adds "service" and "version" to every line from now on (log pipelines key on them). Call
  // once, before any other thread logs.
  void identify(std::string_view service, std::string_view version);
  void log(Level level, std::string_view msg, Fields fields = {});
  void debug(std::string_view msg, Fields f = {}) { log(Level::debug, msg, f); }
  void info(std::string_view msg, Fields f = {}) { log(Level::info, msg, f); }
  void warn(std::string_view msg, Fields f = {}) { log(Level::warn, msg, f); }
  void error(std::string_view msg, Fields f = {}) { log(Level::error, msg, f); }

  // Waits until every line logged so far was written, at most until `deadline`.
  bool flush(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() +
                                                              std::chrono::seconds(1));
  // Lines dropped because the output did not keep up.
  std::uint64_t dropped() const;
  // The queue and thread behind this logger; the stdout exporters write through it too, so
  // that their lines and the log's never interleave mid-line and never block either.
  LineWriter& writer() noexcept { return *writer_; }

 private:
  Level min_;
  std::string identity_;                // ,"service":"…","version":"…" or ""
  std::unique_ptr<LineWriter> writer_;  // thread-safe: the relay and exporters log too
};

// The one JSON string escaper (common/utf8.h): invalid UTF-8 becomes U+FFFD.
using userservice::append_json_escaped;

}  // namespace userservice::telemetry
