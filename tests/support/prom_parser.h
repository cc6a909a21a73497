#pragma once
// A strict parser of the Prometheus text exposition format 0.0.4 for tests, written from
// prometheus.io "Exposition formats" (Text format details). Stricter than Prometheus itself,
// which leaves duplicate series and histogram inconsistencies as "undefined ingestion":
// every violation is reported with its line number and a stable rule id.
//
//   auto parsed = parse_prometheus_text(http(admin_port, "GET", "/metrics").body);
//   EXPECT_TRUE(parsed.errors.empty()) << parsed.error_text();
//   const PromFamily* f = parsed.family("http_server_requests_total");
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace userservice::testing {

struct PromSample {
  std::string name;                           // as written: x, x_bucket, x_sum, x_count
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  int line = 0;

  std::string label(const std::string& name) const;  // "" if absent
};

struct PromFamily {
  std::string name;
  std::string type = "untyped";     // counter | gauge | histogram | summary | untyped
  std::optional<std::string> help;  // unescaped
  std::vector<PromSample> samples;
  int line = 0;  // first line that named it

  // Samples named exactly `sample_name` ("" = the family name) whose labels include `match`.
  std::vector<const PromSample*> find(const std::string& sample_name,
                                      const std::map<std::string, std::string>& match = {}) const;
};

// Rule ids (stable, for tests to match on):
//   no_trailing_newline, carriage_return, invalid_utf8, bad_comment, bad_help, bad_type,
//   unknown_type, duplicate_help, duplicate_type, type_after_samples, help_after_samples,
//   bad_metric_name, bad_label_name, reserved_label_name, duplicate_label, bad_label_value,
//   bad_escape, bad_value, bad_timestamp, trailing_garbage, duplicate_series, not_contiguous,
//   wrong_sample_name, negative_counter, missing_le, bad_le, le_order, bucket_not_cumulative,
//   missing_inf_bucket, inf_bucket_count_mismatch, missing_sum, missing_count, bad_quantile,
//   quantile_order, unexpected_label
struct PromError {
  int line = 0;  // 0 when it concerns the whole document or a family
  std::string rule;
  std::string message;
};

// Lint findings that the format allows but `promtool check metrics` complains about
// (rules: counter_without_total, missing_help).
struct PromParseResult {
  std::vector<PromFamily> families;  // in order of appearance
  std::vector<PromError> errors;
  std::vector<PromError> warnings;

  bool ok() const { return errors.empty(); }
  const PromFamily* family(std::string_view name) const;
  std::vector<std::string> family_names() const;
  bool has_error(std::string_view rule) const;
  std::string error_text() const;  // one "line N: [rule] message" per line, warnings after
};

PromParseResult parse_prometheus_text(std::string_view text);

}  // namespace userservice::testing
