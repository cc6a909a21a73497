// The strict Prometheus text-format (0.0.4) parser used by the metrics tests: it accepts the
// format's own examples and rejects each kind of violation, one test per rule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "support/prom_parser.h"

using namespace userservice::testing;

namespace {

// The example of prometheus.io "Exposition formats", plus HELP escapes and a trailing comma.
constexpr std::string_view kValid = R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP telemetry_requests_metrics_latency_microseconds A summary of the response latency.
# TYPE telemetry_requests_metrics_latency_microseconds summary
telemetry_requests_metrics_latency_microseconds{quantile="0.01"} 3102
telemetry_requests_metrics_latency_microseconds{quantile="0.05"} 3272
telemetry_requests_metrics_latency_microseconds{quantile="0.5"} 4773
telemetry_requests_metrics_latency_microseconds{quantile="0.9"} 9001
telemetry_requests_metrics_latency_microseconds{quantile="0.99"} 76656
telemetry_requests_metrics_latency_microseconds_sum 1.7560473e+07
telemetry_requests_metrics_latency_microseconds_count 2693
# HELP escaped_help A \\ backslash\nand a new line.
# TYPE escaped_help gauge
escaped_help{a="1",} NaN
	  indented_and_tabbed	{ b = "2" }	-Inf  
)";

// Parses `text` and expects exactly one error, with rule `rule` on line `line`.
void expect_only(std::string_view text, const std::string& rule, int line) {
  auto r = parse_prometheus_text(text);
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.errors[0].rule, rule) << r.error_text();
  EXPECT_EQ(r.errors[0].line, line) << r.error_text();
}

}  // namespace

TEST(PromParser, AcceptsTheFormatsOwnExample) {
  auto r = parse_prometheus_text(kValid);
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.family_names(),
            (std::vector<std::string>{"http_requests_total", "msdos_file_access_time_seconds",
                                      "metric_without_timestamp_and_labels", "something_weird",
                                      "http_request_duration_seconds",
                                      "telemetry_requests_metrics_latency_microseconds",
                                      "escaped_help", "indented_and_tabbed"}));
  const PromFamily* requests = r.family("http_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->type, "counter");
  EXPECT_EQ(requests->help, "The total number of HTTP requests.");
  ASSERT_EQ(requests->find("", {{"code", "400"}}).size(), 1u);
  EXPECT_EQ(requests->find("", {{"code", "400"}})[0]->value, 3);
  EXPECT_EQ(requests->samples[0].timestamp_ms, 1395066363000);

  const auto& msdos = r.family("msdos_file_access_time_seconds")->samples[0];
  EXPECT_EQ(msdos.label("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(msdos.label("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(msdos.value, 1.458255915e9);
  EXPECT_EQ(msdos.timestamp_ms, std::nullopt);

  const auto& weird = r.family("something_weird")->samples[0];
  EXPECT_TRUE(std::isinf(weird.value) && weird.value > 0);
  EXPECT_EQ(weird.timestamp_ms, -3982045);

  const PromFamily* hist = r.family("http_request_duration_seconds");
  EXPECT_EQ(hist->type, "histogram");
  EXPECT_EQ(hist->samples.size(), 8u);
  EXPECT_EQ(hist->find("http_request_duration_seconds_bucket", {{"le", "+Inf"}})[0]->value, 144320);
  EXPECT_EQ(r.family("telemetry_requests_metrics_latency_microseconds")->samples.size(), 7u);

  const PromFamily* escaped = r.family("escaped_help");
  EXPECT_EQ(escaped->help, "A \\ backslash\nand a new line.");
  EXPECT_TRUE(std::isnan(escaped->samples[0].value));
  EXPECT_EQ(r.family("indented_and_tabbed")->samples[0].label("b"), "2");

  // Allowed by the format, flagged the way promtool's linter does.
  EXPECT_TRUE(r.warnings.size() >= 3) << r.error_text();
}

TEST(PromParser, EmptyDocumentIsValid) { EXPECT_TRUE(parse_prometheus_text("").ok()); }

TEST(PromParser, PlainCommentsAreIgnored) {
  auto r = parse_prometheus_text("# just a comment\n#\n# HELPER is not HELP\nx 1\n");
  EXPECT_TRUE(r.ok()) << r.error_text();
}

TEST(PromParser, RuleNoTrailingNewline) { expect_only("x 1\ny 2", "no_trailing_newline", 2); }

TEST(PromParser, RuleCarriageReturn) { expect_only("x 1\r\n", "carriage_return", 1); }

TEST(PromParser, RuleInvalidUtf8) { expect_only("x{a=\"\xc3\x28\"} 1\n", "invalid_utf8", 1); }

TEST(PromParser, RuleBadHelp) { expect_only("# HELP\n", "bad_help", 1); }

TEST(PromParser, RuleBadType) {
  expect_only("# TYPE x\nx 1\n", "bad_type", 1);
  expect_only("# TYPE x counter extra\nx 1\n", "bad_type", 1);
}

TEST(PromParser, RuleUnknownType) { expect_only("# TYPE x timer\nx 1\n", "unknown_type", 1); }

TEST(PromParser, RuleDuplicateHelp) {
  expect_only("# HELP x one\n# HELP x two\nx 1\n", "duplicate_help", 2);
}

TEST(PromParser, RuleDuplicateType) {
  expect_only("# TYPE x gauge\n# TYPE x gauge\nx 1\n", "duplicate_type", 2);
}

TEST(PromParser, RuleTypeAfterSamples) {
  expect_only("x 1\n# TYPE x gauge\n", "type_after_samples", 2);
}

TEST(PromParser, RuleHelpAfterSamples) {
  expect_only("x 1\n# HELP x late\n", "help_after_samples", 2);
}

TEST(PromParser, RuleBadMetricName) {
  expect_only("1x 1\n", "bad_metric_name", 1);
  expect_only("# TYPE x-y gauge\n", "bad_metric_name", 1);
  expect_only("{a=\"b\"} 1\n", "bad_metric_name", 1);
}

TEST(PromParser, ColonsAreValidInMetricNamesOnly) {
  EXPECT_TRUE(parse_prometheus_text("job:rate:5m 1\n").ok());
  expect_only("x{a:b=\"c\"} 1\n", "bad_label_value", 1);  // '=' expected after label "a"
}

TEST(PromParser, RuleBadLabelName) {
  expect_only("x{1a=\"b\"} 1\n", "bad_label_name", 1);
  expect_only("x{,} 1\n", "bad_label_name", 1);
}

TEST(PromParser, RuleReservedLabelName) {
  expect_only("x{__name__=\"y\"} 1\n", "reserved_label_name", 1);
}

TEST(PromParser, RuleDuplicateLabel) {
  expect_only("x{a=\"1\",a=\"2\"} 1\n", "duplicate_label", 1);
}

TEST(PromParser, RuleBadLabelValue) {
  expect_only("x{a=b} 1\n", "bad_label_value", 1);
  expect_only("x{a=\"b} 1\n", "bad_label_value", 1);
  expect_only("x{a=\"b\" c=\"d\"} 1\n", "bad_label_value", 1);
  expect_only("x{a \"b\"} 1\n", "bad_label_value", 1);
}

TEST(PromParser, RuleBadEscape) {
  expect_only("x{a=\"\\t\"} 1\n", "bad_escape", 1);
  expect_only("# HELP x bad \\t escape\nx 1\n", "bad_escape", 1);
}

TEST(PromParser, RuleBadValue) {
  expect_only("x\n", "bad_value", 1);
  expect_only("x abc\n", "bad_value", 1);
  expect_only("x 1.2.3\n", "bad_value", 1);
  expect_only("x 0x1p3\n", "bad_value", 1);
  for (const char* ok : {"x 1\n", "x -1.5e-3\n", "x .5\n", "x 5.\n", "x +Inf\n", "x -inf\n",
                         "x NaN\n", "x 1E+10\n"}) {
    EXPECT_TRUE(parse_prometheus_text(ok).ok()) << ok;
  }
}

TEST(PromParser, RuleBadTimestamp) {
  expect_only("x 1 1.5\n", "bad_timestamp", 1);
  expect_only("x 1 99999999999999999999\n", "bad_timestamp", 1);
}

TEST(PromParser, RuleTrailingGarbage) { expect_only("x 1 2 3\n", "trailing_garbage", 1); }

TEST(PromParser, RuleDuplicateSeries) {
  expect_only("x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n", "duplicate_series", 2);
  EXPECT_TRUE(parse_prometheus_text("x{a=\"1\"} 1\nx{a=\"2\"} 2\n").ok());
}

TEST(PromParser, RuleNotContiguous) {
  expect_only("x 1\ny 1\nx{a=\"b\"} 2\n", "not_contiguous", 3);
  expect_only("# TYPE x gauge\ny 1\n# HELP x late\n", "not_contiguous", 3);
}

TEST(PromParser, RuleWrongSampleName) {
  expect_only("# TYPE h histogram\nh 1\n", "wrong_sample_name", 2);
}

TEST(PromParser, CounterSuffixRules) {
  // In format 0.0.4 a counter's samples carry exactly its name, _total included.
  EXPECT_TRUE(parse_prometheus_text("# TYPE c_total counter\nc_total 1\n").ok());
  auto r = parse_prometheus_text("# TYPE c counter\nc 1\n");
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 2u) << r.error_text();
  EXPECT_EQ(r.warnings[0].rule, "counter_without_total");
  // A sample named c_total after TYPE c counter is a family of its own, not part of c.
  auto split = parse_prometheus_text("# TYPE c counter\nc_total 1\n");
  EXPECT_TRUE(split.ok());
  EXPECT_EQ(split.family_names(), (std::vector<std::string>{"c", "c_total"}));
  EXPECT_TRUE(split.family("c")->samples.empty());
}

TEST(PromParser, RuleNegativeCounter) {
  expect_only("# TYPE c_total counter\nc_total -1\n", "negative_counter", 2);
}

constexpr std::string_view kHistHead = "# TYPE h histogram\n";

TEST(PromParser, RuleMissingLe) {
  expect_only(std::string(kHistHead) + "h_bucket 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
              "missing_le", 2);
}

TEST(PromParser, RuleBadLe) {
  expect_only(std::string(kHistHead) +
                  "h_bucket{le=\"one\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
              "bad_le", 2);
}

TEST(PromParser, RuleLeOrder) {
  expect_only(std::string(kHistHead) +
                  "h_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
                  "h_sum 1\nh_count 1\n",
              "le_order", 3);
}

TEST(PromParser, RuleBucketNotCumulative) {
  expect_only(std::string(kHistHead) +
                  "h_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                  "h_sum 1\nh_count 2\n",
              "bucket_not_cumulative", 3);
}

TEST(PromParser, RuleMissingInfBucket) {
  expect_only(std::string(kHistHead) + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
              "missing_inf_bucket", 2);
}

TEST(PromParser, RuleInfBucketCountMismatch) {
  expect_only(std::string(kHistHead) +
                  "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
              "inf_bucket_count_mismatch", 5);
}

TEST(PromParser, RuleMissingSum) {
  expect_only(std::string(kHistHead) + "h_bucket{le=\"+Inf\"} 2\nh_count 2\n", "missing_sum", 2);
}

TEST(PromParser, RuleMissingCount) {
  expect_only(std::string(kHistHead) + "h_bucket{le=\"+Inf\"} 2\nh_sum 2\n", "missing_count", 2);
}

TEST(PromParser, HistogramSeriesAreCheckedPerLabelSet) {
  auto r = parse_prometheus_text(std::string(kHistHead) +
                                 "h_bucket{r=\"a\",le=\"1\"} 1\nh_bucket{r=\"a\",le=\"+Inf\"} 1\n"
                                 "h_bucket{r=\"b\",le=\"1\"} 5\nh_bucket{r=\"b\",le=\"+Inf\"} 5\n"
                                 "h_sum{r=\"a\"} 1\nh_count{r=\"a\"} 1\nh_sum{r=\"b\"} 1\n"
                                 "h_count{r=\"b\"} 4\n");
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.errors[0].rule, "inf_bucket_count_mismatch");
  EXPECT_THAT(r.errors[0].message, ::testing::HasSubstr("r=\"b\""));
}

TEST(PromParser, RuleUnexpectedLabel) {
  expect_only(std::string(kHistHead) + "h_bucket{le=\"+Inf\"} 1\nh_sum{le=\"+Inf\"} 1\nh_count 1\n",
              "unexpected_label", 3);
}

TEST(PromParser, RuleBadQuantile) {
  expect_only("# TYPE s summary\ns{quantile=\"1.5\"} 1\ns_sum 1\ns_count 1\n", "bad_quantile", 2);
  expect_only("# TYPE s summary\ns 1\ns_sum 1\ns_count 1\n", "bad_quantile", 2);
}

TEST(PromParser, RuleQuantileOrder) {
  expect_only(
      "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n",
      "quantile_order", 3);
}
