#pragma once
// Blocking HTTP/1.1 POST client for OTLP/HTTP. It owns a private io_context and runs on the
// calling exporter thread, never on the service's event loop, so a slow or dead collector only
// ever delays the exporter. Every call returns by its deadline: connect, write and read are
// bounded, name resolution runs on a throwaway thread that is abandoned at the deadline, and
// interrupt_at() lets another thread (shutdown) pull the deadline in while a call is running.
// http:// only: there is no TLS in this build.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_url.h"

namespace userservice::telemetry {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// The collector's URL (common/http_url.h).
using userservice::HttpUrl;
using userservice::parse_http_url;

struct OtlpHttpOptions {
  HttpUrl url;
  std::string content_type;  // "application/x-protobuf" or "application/json"
  StringPairs headers;       // OTEL_EXPORTER_OTLP_*HEADERS
  std::chrono::milliseconds request_timeout{10'000};  // per attempt (OTEL_EXPORTER_OTLP_TIMEOUT)
  int max_retries = 2;  // after the first attempt, for 429/502/503/504 and lost connections
  std::chrono::milliseconds initial_backoff{100};  // doubled per retry; Retry-After wins
};

struct HttpPostResult {
  enum class Outcome {
    ok,        // 2xx
    rejected,  // a status that must not be retried (400, 401, 413, ...): the data is dropped
    failed,    // transport error, timeout, or retryable statuses until retries/time ran out
  };
  Outcome outcome = Outcome::failed;
  unsigned status = 0;  // of the last response, 0 when none arrived
  std::string body;     // of the last response
  std::string error;    // for logs
  int attempts = 0;
};

// 429, 502, 503, 504 (the OTLP/HTTP retryable set).
bool is_retryable_status(unsigned status);

class OtlpHttpClient {
 public:
  explicit OtlpHttpClient(OtlpHttpOptions options);
  ~OtlpHttpClient();
  OtlpHttpClient(const OtlpHttpClient&) = delete;
  OtlpHttpClient& operator=(const OtlpHttpClient&) = delete;

  // POSTs `body`, reusing the kept-alive connection when there is one. Not thread-safe: one
  // caller thread at a time.
  HttpPostResult post(std::string_view body, std::chrono::steady_clock::time_point deadline);

  // Thread-safe: any post() running now or later gives up by `deadline` (the earliest wins).
  void interrupt_at(std::chrono::steady_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace userservice::telemetry
