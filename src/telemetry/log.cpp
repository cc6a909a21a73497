#include "telemetry/log.h"

#include "telemetry/line_writer.h"

#include <chrono>
#include <cmath>
#include <ctime>

namespace userservice::telemetry {

namespace {
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto micros = duration_cast<microseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(micros));
  out += buf;
}
}  // namespace

Logger::Logger(Level min_level, std::FILE* out, std::size_t max_queued_bytes)
    : min_(min_level), writer_(std::make_unique<LineWriter>(out, max_queued_bytes)) {}

Logger::~Logger() = default;

bool Logger::flush(std::chrono::steady_clock::time_point deadline) {
  return writer_->flush(deadline);
}

std::uint64_t Logger::dropped() const { return writer_->dropped_lines(); }

void Logger::identify(std::string_view service, std::string_view version) {
  identity_ = ",\"service\":\"";
  append_json_escaped(identity_, service);
  identity_ += "\",\"version\":\"";
  append_json_escaped(identity_, version);
  identity_ += '"';
}

void Logger::log(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  append_timestamp(line);
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":\"";
  append_json_escaped(line, msg);
  line += '"';
  line += identity_;
  for (const Field& f : fields) {
    line += ",\"";
    append_json_escaped(line, f.key);
    line += "\":";
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            line += '"';
            append_json_escaped(line, v);
            line += '"';
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            if (std::isfinite(v)) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.6g", v);
              line += buf;
            } else {
              line += "null";
            }
          } else {
            line += std::to_string(v);
          }
        },
        f.value);
  }
  line += "}\n";
  writer_->write(line);
}

}  // namespace userservice::telemetry
