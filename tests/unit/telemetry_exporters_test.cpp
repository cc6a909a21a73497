// Export side: the OTLP/HTTP client against real TCP servers on loopback (a scripted HTTP/1.1
// responder and a collector that accepts and never answers), the batch span processor's bounded
// queue and bounded shutdown, the periodic metrics exporter, the stdout exporters, the factory.
#include "telemetry/exporters.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "telemetry/otlp_http.h"

using namespace userservice::telemetry;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A loopback HTTP/1.1 server on its own thread. Each complete request (head + Content-Length
// body) is recorded and answered with the next scripted status (the last one repeats), unless
// `never_answer`: then it reads and keeps the connection open without a byte in reply, like a
// wedged collector. `drop_after_response` closes the connection silently after each answer (no
// "Connection: close"), like a server whose keep-alive timer fired.
class LoopbackHttpServer {
 public:
  struct Options {
    std::vector<unsigned> statuses{200};
    bool never_answer = false;
    bool drop_after_response = false;
    std::string response_body;
  };

  explicit LoopbackHttpServer(Options options) : opt_(std::move(options)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~LoopbackHttpServer() {
    stop_ = true;
    thread_.join();
    for (auto& c : clients_) ::close(c.fd);
    ::close(listener_);
  }

  std::string url(std::string_view path = "/v1/traces") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  std::vector<std::string> heads() const {
    std::lock_guard lock(mu_);
    return heads_;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  struct Client {
    int fd;
    std::string buffer;
  };

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const auto& c : clients_) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept(listener_, nullptr, nullptr);
        if (fd >= 0) {
          clients_.push_back({fd, {}});
          ++connections_;
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Client& c = clients_[i - 1];
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        c.buffer.append(buf, static_cast<std::size_t>(n));
        serve(c);
      }
      std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
    }
  }

  void serve(Client& c) {
    while (c.fd >= 0) {
      auto head_end = c.buffer.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::string head = c.buffer.substr(0, head_end);
      std::size_t length = 0;
      std::string lower = head;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (auto p = lower.find("content-length:"); p != std::string::npos) {
        length = std::stoul(lower.substr(p + 15));
      }
      if (c.buffer.size() < head_end + 4 + length) return;
      std::string body = c.buffer.substr(head_end + 4, length);
      c.buffer.erase(0, head_end + 4 + length);
      const int index = requests_++;
      {
        std::lock_guard lock(mu_);
        heads_.push_back(head);
        bodies_.push_back(body);
      }
      if (opt_.never_answer) continue;
      const unsigned status = opt_.statuses[std::min<std::size_t>(index, opt_.statuses.size() - 1)];
      std::string response = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\n" +
                             "Content-Type: application/x-protobuf\r\n" +
                             "Content-Length: " + std::to_string(opt_.response_body.size()) +
                             "\r\n\r\n" + opt_.response_body;
      ::send(c.fd, response.data(), response.size(), MSG_NOSIGNAL);
      if (opt_.drop_after_response) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
  }

  Options opt_;
  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::vector<Client> clients_;  // server thread only
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

double value_of(prometheus::Registry& registry, std::string_view name,
                const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

SpanData make_span(int i) {
  SpanData s;
  s.trace_id = new_trace_id();
  s.span_id = new_span_id();
  s.name = "span-" + std::to_string(i);
  s.kind = SpanKind::internal;
  s.start_unix_nano = unix_nanos_now();
  s.end_unix_nano = s.start_unix_nano + 1000;
  return s;
}

// Records batches; optionally holds each export until released.
class RecordingExporter final : public SpanExporter {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool hold = false;
    int in_export = 0;
    std::vector<std::size_t> batch_sizes;
    std::size_t total = 0;
  };
  explicit RecordingExporter(std::shared_ptr<State> state) : st_(std::move(state)) {}
  ExportResult export_spans(std::span<const SpanData> spans, Clock::time_point) override {
    std::unique_lock lock(st_->mu);
    ++st_->in_export;
    st_->cv.notify_all();
    st_->cv.wait(lock, [&] { return !st_->hold; });
    --st_->in_export;
    st_->batch_sizes.push_back(spans.size());
    st_->total += spans.size();
    return ExportResult{.ok = true};
  }
  std::string_view name() const override { return "stdout"; }

 private:
  std::shared_ptr<State> st_;
};

// A temporary file closed on destruction: declared before a Logger writing to it, it outlives
// the logger's writer thread.
struct TmpFile {
  std::FILE* f = std::tmpfile();
  ~TmpFile() {
    if (f) std::fclose(f);
  }
};

std::string read_all(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  return out;
}

std::vector<boost::json::value> json_lines(const std::string& text) {
  std::vector<boost::json::value> out;
  for (std::size_t start = 0; start < text.size();) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(boost::json::parse(std::string_view(text).substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

OtlpHttpOptions client_options(const LoopbackHttpServer& server) {
  OtlpHttpOptions o;
  o.url = *parse_http_url(server.url());
  o.content_type = "application/x-protobuf";
  o.request_timeout = 2s;
  o.initial_backoff = 10ms;
  return o;
}

}  // namespace

TEST(OtlpHttpUrl, Parses) {
  auto u = parse_http_url("http://collector:4318/v1/traces");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "collector");
  EXPECT_EQ(u->port, 4318);
  EXPECT_EQ(u->target, "/v1/traces");
  u = parse_http_url("http://[::1]/x?y=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/x?y=1");
  EXPECT_EQ(parse_http_url("http://h:1")->target, "/");
  std::string why;
  EXPECT_FALSE(parse_http_url("https://collector:4318/v1/traces", &why));
  EXPECT_NE(why.find("https:// is not supported"), std::string::npos) << why;
  EXPECT_FALSE(parse_http_url("grpc://collector:4317", &why));
  EXPECT_FALSE(parse_http_url("collector:4318", &why));
  EXPECT_FALSE(parse_http_url("http://:4318/", &why));
  EXPECT_FALSE(parse_http_url("http://h:99999/", &why));
}

TEST(OtlpHttpClient, PostsWithHeadersAndReusesTheConnection) {
  LoopbackHttpServer server({});
  auto o = client_options(server);
  o.headers = {{"Authorization", "Bearer t"}, {"X-Tenant", "eu"}};
  OtlpHttpClient client(o);
  for (int i = 0; i < 3; ++i) {
    auto r = client.post("body-" + std::to_string(i), Clock::now() + 2s);
    EXPECT_EQ(r.outcome, HttpPostResult::Outcome::ok) << r.error;
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.attempts, 1);
  }
  EXPECT_EQ(server.connections(), 1);  // keep-alive
  ASSERT_EQ(server.requests(), 3);
  const std::string head = server.heads().at(0);
  EXPECT_EQ(head.rfind("POST /v1/traces HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: application/x-protobuf"), std::string::npos) << head;
  EXPECT_NE(head.find("Authorization: Bearer t"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Tenant: eu"), std::string::npos) << head;
  EXPECT_EQ(server.bodies().at(2), "body-2");
}

TEST(OtlpHttpClient, RetriesRetryableStatuses) {
  LoopbackHttpServer server({.statuses = {503, 429, 200}});
  OtlpHttpClient client(client_options(server));
  auto r = client.post("x", Clock::now() + 2s);
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::ok) << r.error;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(server.requests(), 3);
}

TEST(OtlpHttpClient, GivesUpAfterTwoRetries) {
  LoopbackHttpServer server({.statuses = {502}});
  OtlpHttpClient client(client_options(server));
  auto r = client.post("x", Clock::now() + 2s);
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::failed);
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.attempts, 3);
}

TEST(OtlpHttpClient, DoesNotRetryOtherErrors) {
  LoopbackHttpServer server({.statuses = {400, 200}});
  OtlpHttpClient client(client_options(server));
  auto r = client.post("x", Clock::now() + 2s);
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::rejected);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.requests(), 1);
}

TEST(OtlpHttpClient, ResendsWhenTheServerDroppedTheIdleConnection) {
  LoopbackHttpServer server({.drop_after_response = true});
  OtlpHttpClient client(client_options(server));
  ASSERT_EQ(client.post("a", Clock::now() + 2s).outcome, HttpPostResult::Outcome::ok);
  std::this_thread::sleep_for(50ms);  // the server has closed its side by now
  auto r = client.post("b", Clock::now() + 2s);
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::ok) << r.error;
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.connections(), 2);
}

TEST(OtlpHttpClient, RefusedConnectionFailsFast) {
  int port = 0;
  {
    LoopbackHttpServer gone({});
    port = std::stoi(gone.url("").substr(std::string("http://127.0.0.1:").size()));
  }
  OtlpHttpOptions o;
  o.url = *parse_http_url("http://127.0.0.1:" + std::to_string(port) + "/v1/traces");
  o.content_type = "application/json";
  o.initial_backoff = 10ms;
  OtlpHttpClient client(o);
  const auto start = Clock::now();
  auto r = client.post("{}", start + 2s);
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::failed);
  EXPECT_EQ(r.status, 0u);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(OtlpHttpClient, NeverAnsweringCollectorTimesOutAtTheDeadline) {
  LoopbackHttpServer server({.never_answer = true});
  auto o = client_options(server);
  o.request_timeout = 10s;
  OtlpHttpClient client(o);
  const auto start = Clock::now();
  auto r = client.post("x", start + 300ms);
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::failed);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 600ms);
}

TEST(OtlpHttpClient, InterruptCutsARunningPostShort) {
  LoopbackHttpServer server({.never_answer = true});
  auto o = client_options(server);
  o.request_timeout = 10s;
  OtlpHttpClient client(o);
  const auto start = Clock::now();
  std::thread interrupter([&] {
    std::this_thread::sleep_for(100ms);
    client.interrupt_at(Clock::now());
  });
  auto r = client.post("x", start + 10s);
  interrupter.join();
  EXPECT_EQ(r.outcome, HttpPostResult::Outcome::failed);
  EXPECT_LT(Clock::now() - start, 500ms);
}

TEST(BatchSpanProcessor, ExportsInBatchesOnFlush) {
  prometheus::Registry registry;
  Logger log(Level::error);
  auto state = std::make_shared<RecordingExporter::State>();
  BatchSpanProcessor p(std::make_unique<RecordingExporter>(state),
                       BatchOptions{.max_queue_size = 100,
                                    .max_export_batch_size = 4,
                                    .schedule_delay = 1h,
                                    .export_timeout = 1s},
                       registry, log);
  for (int i = 0; i < 10; ++i) p.on_end(make_span(i));
  ASSERT_TRUE(p.force_flush(Clock::now() + 2s));
  {
    std::lock_guard lock(state->mu);
    EXPECT_EQ(state->total, 10u);
    for (auto n : state->batch_sizes) EXPECT_LE(n, 4u);
  }
  EXPECT_EQ(value_of(registry, "otel_exporter_spans_exported_total", {{"exporter", "stdout"}}), 10);
  EXPECT_EQ(value_of(registry, "otel_exporter_queue_size", {{"exporter", "stdout"}}), 0);
  p.shutdown(Clock::now() + 1s);
}

TEST(BatchSpanProcessor, ScheduleDelayExportsAPartialBatch) {
  prometheus::Registry registry;
  Logger log(Level::error);
  auto state = std::make_shared<RecordingExporter::State>();
  BatchSpanProcessor p(std::make_unique<RecordingExporter>(state),
                       BatchOptions{.max_queue_size = 100,
                                    .max_export_batch_size = 50,
                                    .schedule_delay = 50ms,
                                    .export_timeout = 1s},
                       registry, log);
  p.on_end(make_span(0));
  const auto until = Clock::now() + 2s;
  while (Clock::now() < until) {
    {
      std::lock_guard lock(state->mu);
      if (state->total == 1) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard lock(state->mu);
  EXPECT_EQ(state->total, 1u);
}

TEST(BatchSpanProcessor, FullQueueDropsAndCounts) {
  prometheus::Registry registry;
  Logger log(Level::error);
  auto state = std::make_shared<RecordingExporter::State>();
  state->hold = true;
  BatchSpanProcessor p(std::make_unique<RecordingExporter>(state),
                       BatchOptions{.max_queue_size = 4,
                                    .max_export_batch_size = 2,
                                    .schedule_delay = 1h,
                                    .export_timeout = 1s},
                       registry, log);
  p.on_end(make_span(0));
  p.on_end(make_span(1));  // a full batch: the worker takes it and blocks in the exporter
  {
    std::unique_lock lock(state->mu);
    ASSERT_TRUE(state->cv.wait_for(lock, 2s, [&] { return state->in_export == 1; }));
  }
  const auto start = Clock::now();
  for (int i = 2; i < 9; ++i) p.on_end(make_span(i));  // 4 fit, 3 are dropped
  EXPECT_LT(Clock::now() - start, 100ms);              // never waits for the exporter
  EXPECT_EQ(value_of(registry, "otel_exporter_spans_dropped_total",
                     {{"exporter", "stdout"}, {"reason", "queue_full"}}),
            3);
  EXPECT_EQ(value_of(registry, "otel_exporter_queue_size", {{"exporter", "stdout"}}), 4);
  {
    std::lock_guard lock(state->mu);
    state->hold = false;
    state->cv.notify_all();
  }
  ASSERT_TRUE(p.force_flush(Clock::now() + 2s));
  std::lock_guard lock(state->mu);
  EXPECT_EQ(state->total, 6u);
}

TEST(BatchSpanProcessor, OtlpExportReachesTheCollector) {
  LoopbackHttpServer server({});
  prometheus::Registry registry;
  Logger log(Level::error);
  BatchSpanProcessor p(
      make_otlp_span_exporter(make_resource("svc"),
                              OtlpExporterOptions{.endpoint = server.url(), .json = true}, log),
      BatchOptions{.schedule_delay = 1h}, registry, log);
  p.on_end(make_span(0));
  p.on_end(make_span(1));
  ASSERT_TRUE(p.force_flush(Clock::now() + 3s));
  ASSERT_EQ(server.requests(), 1);
  auto body = boost::json::parse(server.bodies().at(0));
  const auto& spans = body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans");
  EXPECT_EQ(spans.as_array().size(), 2u);
  EXPECT_NE(server.heads().at(0).find("Content-Type: application/json"), std::string::npos);
  EXPECT_EQ(value_of(registry, "otel_exporter_spans_exported_total", {{"exporter", "otlp"}}), 2);
  p.shutdown(Clock::now() + 1s);
}

TEST(BatchSpanProcessor, FailedExportsAreCounted) {
  LoopbackHttpServer server({.statuses = {400}});
  prometheus::Registry registry;
  Logger log(Level::error);
  BatchSpanProcessor p(make_otlp_span_exporter(make_resource("svc"),
                                               OtlpExporterOptions{.endpoint = server.url()}, log),
                       BatchOptions{.schedule_delay = 1h}, registry, log);
  for (int i = 0; i < 3; ++i) p.on_end(make_span(i));
  ASSERT_TRUE(p.force_flush(Clock::now() + 3s));
  EXPECT_EQ(value_of(registry, "otel_exporter_spans_dropped_total",
                     {{"exporter", "otlp"}, {"reason", "export_failed"}}),
            3);
}

TEST(BatchSpanProcessor, ShutdownIsBoundedWithANeverAnsweringCollector) {
  LoopbackHttpServer server({.never_answer = true});
  prometheus::Registry registry;
  Logger log(Level::error);
  BatchSpanProcessor p(
      make_otlp_span_exporter(make_resource("svc"),
                              OtlpExporterOptions{.endpoint = server.url(), .timeout = 10s}, log),
      BatchOptions{.max_queue_size = 100,
                   .max_export_batch_size = 2,
                   .schedule_delay = 20ms,
                   .export_timeout = 30s},
      registry, log);
  for (int i = 0; i < 10; ++i) p.on_end(make_span(i));
  // Wait until an export is in flight (the collector has the request and sits on it).
  const auto wait_until = Clock::now() + 2s;
  while (server.requests() == 0 && Clock::now() < wait_until) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.requests(), 1);

  const auto start = Clock::now();
  p.shutdown(start + 300ms);
  const auto took = Clock::now() - start;
  EXPECT_LT(took, 600ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  const double failed = value_of(registry, "otel_exporter_spans_dropped_total",
                                 {{"exporter", "otlp"}, {"reason", "export_failed"}});
  const double at_shutdown = value_of(registry, "otel_exporter_spans_dropped_total",
                                      {{"exporter", "otlp"}, {"reason", "shutdown"}});
  EXPECT_EQ(failed + at_shutdown, 10);
  p.on_end(make_span(99));        // after shutdown: dropped, not queued, no crash
  p.shutdown(Clock::now() + 1s);  // idempotent
}

TEST(StdoutExporter, SpanLinesParseAsJson) {
  TmpFile tmp;  // closed after the logger that writes to it is gone
  std::FILE* out = tmp.f;
  ASSERT_NE(out, nullptr);
  prometheus::Registry registry;
  Logger log(Level::error, out);
  {
    BatchSpanProcessor p(make_stdout_span_exporter("svc", log.writer()),
                         BatchOptions{.schedule_delay = 1h}, registry, log);
    for (int i = 0; i < 3; ++i) p.on_end(make_span(i));
    p.shutdown(Clock::now() + 1s);  // flushes
  }
  ASSERT_TRUE(log.flush());
  auto lines = json_lines(read_all(out));
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& v : lines) {
    EXPECT_EQ(v.at("type").as_string(), "span");
    EXPECT_EQ(v.at("service").as_string(), "svc");
    EXPECT_EQ(v.at("trace_id").as_string().size(), 32u);
  }
}

TEST(PeriodicMetricsExporter, ExportsToStdoutAndOtlp) {
  LoopbackHttpServer server({});
  TmpFile tmp;  // closed after the logger that writes to it is gone
  std::FILE* out = tmp.f;
  ASSERT_NE(out, nullptr);
  prometheus::Registry app;  // what the service measures
  prometheus::BuildCounter().Name("jobs_total").Help("Jobs.").Register(app).Add({}).Increment(2);
  prometheus::Registry self;  // where the exporter counts itself
  Logger log(Level::error, out);
  std::vector<std::unique_ptr<MetricExporter>> exporters;
  exporters.push_back(make_stdout_metric_exporter("svc", log.writer()));
  exporters.push_back(make_otlp_metric_exporter(
      make_resource("svc"), OtlpExporterOptions{.endpoint = server.url("/v1/metrics")}, log));
  std::atomic<int> collects{0};
  PeriodicMetricsExporter m(
      [&](Clock::time_point) {
        ++collects;
        return app.Collect();
      },
      std::move(exporters), PeriodicOptions{.interval = 1h}, self, log);
  ASSERT_TRUE(m.force_flush(Clock::now() + 3s));
  EXPECT_EQ(collects.load(), 1);
  ASSERT_TRUE(log.flush());
  auto lines = json_lines(read_all(out));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("type").as_string(), "metric");
  EXPECT_EQ(lines[0].at("name").as_string(), "jobs");
  EXPECT_EQ(lines[0].at("value").to_number<double>(), 2.0);
  ASSERT_EQ(server.requests(), 1);
  EXPECT_EQ(server.heads().at(0).rfind("POST /v1/metrics HTTP/1.1", 0), 0u);
  EXPECT_EQ(value_of(self, "otel_exporter_metric_exports_total",
                     {{"exporter", "otlp"}, {"outcome", "ok"}}),
            1);
  EXPECT_EQ(value_of(self, "otel_exporter_metric_exports_total",
                     {{"exporter", "stdout"}, {"outcome", "ok"}}),
            1);
  m.shutdown(Clock::now() + 2s);  // the final export
  EXPECT_EQ(collects.load(), 2);
  EXPECT_EQ(server.requests(), 2);
}

TEST(PeriodicMetricsExporter, ShutdownIsBoundedWithANeverAnsweringCollector) {
  LoopbackHttpServer server({.never_answer = true});
  prometheus::Registry app;
  prometheus::BuildGauge().Name("g").Help("G.").Register(app).Add({}).Set(1);
  Logger log(Level::error);
  std::vector<std::unique_ptr<MetricExporter>> exporters;
  exporters.push_back(make_otlp_metric_exporter(
      make_resource("svc"), OtlpExporterOptions{.endpoint = server.url(), .timeout = 10s}, log));
  PeriodicMetricsExporter m([&](Clock::time_point) { return app.Collect(); }, std::move(exporters),
                            PeriodicOptions{.interval = 1h, .timeout = 30s}, app, log);
  const auto start = Clock::now();
  m.shutdown(start + 300ms);
  const auto took = Clock::now() - start;
  EXPECT_LT(took, 600ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(value_of(app, "otel_exporter_metric_exports_total",
                     {{"exporter", "otlp"}, {"outcome", "failed"}}),
            1);
}

TEST(BuildTelemetry, SelectsExporters) {
  prometheus::Registry registry;
  Logger log(Level::error);
  auto collect = [](Clock::time_point) { return std::vector<prometheus::MetricFamily>{}; };
  userservice::config::TelemetryConfig cfg;
  cfg.traces_exporter = userservice::config::Exporter::none;
  cfg.metrics_exporter = userservice::config::Exporter::none;
  auto none = build_telemetry(cfg, log, registry, collect);
  EXPECT_TRUE(none.span_processors.empty());
  EXPECT_EQ(none.metrics, nullptr);

  cfg.traces_exporter = userservice::config::Exporter::console;
  cfg.stdout_traces = true;  // console already prints: not twice
  cfg.metrics_exporter = userservice::config::Exporter::console;
  auto console = build_telemetry(cfg, log, registry, collect);
  EXPECT_EQ(console.span_processors.size(), 1u);
  EXPECT_NE(console.metrics, nullptr);

  cfg.traces_exporter = userservice::config::Exporter::otlp;
  cfg.traces_endpoint = "http://127.0.0.1:9/v1/traces";
  cfg.metrics_exporter = userservice::config::Exporter::otlp;
  cfg.stdout_metrics = true;
  auto both = build_telemetry(cfg, log, registry, collect);
  EXPECT_EQ(both.span_processors.size(), 2u);
  EXPECT_NE(both.metrics, nullptr);
  for (auto& p : both.span_processors) p->shutdown(Clock::now());
  both.metrics->shutdown(Clock::now());

  cfg.traces_endpoint = "https://collector/v1/traces";
  EXPECT_THROW(build_telemetry(cfg, log, registry, collect), std::invalid_argument);
}
