#pragma once
// Log severities, shared by the configuration (USERSERVICE_LOG_LEVEL) and the logger.
#include <optional>
#include <string_view>

namespace userservice {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// "debug" | "info" | "warn" | "error"; nullopt otherwise.
constexpr std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  return std::nullopt;
}

constexpr std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

}  // namespace userservice
