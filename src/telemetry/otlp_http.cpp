#include "telemetry/otlp_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace userservice::telemetry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool is_retryable_status(unsigned status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

struct OtlpHttpClient::Impl {
  explicit Impl(OtlpHttpOptions o) : opt(std::move(o)) {
    const bool v6 = opt.url.host.find(':') != std::string::npos;
    host_header = v6 ? "[" + opt.url.host + "]" : opt.url.host;
    if (opt.url.port != 80) host_header += ":" + std::to_string(opt.url.port);
  }

  OtlpHttpOptions opt;
  std::string host_header;
  asio::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::vector<tcp::endpoint> endpoints;  // resolved once; forgotten after a failed connect
  std::atomic<Clock::rep> interrupt_rep{Clock::time_point::max().time_since_epoch().count()};

  struct Attempt {
    bool got_response = false;
    bool stale = false;  // a reused connection the server had closed: resend on a new one
    unsigned status = 0;
    std::string body;
    std::string error;
    std::optional<Clock::duration> retry_after;
  };

  Clock::time_point limit(Clock::time_point deadline) const {
    return std::min(deadline, Clock::time_point(Clock::duration(interrupt_rep.load())));
  }

  void close() {
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    buffer.clear();
  }

  // Runs the io_context until the pending operation sets `done`, or until the deadline (or an
  // interrupt) passes: then the socket is closed, which completes the operation with an error,
  // and false is returned. Short slices so that an interrupt from another thread is seen soon.
  bool run(const bool& done, Clock::time_point deadline) {
    ioc.restart();
    while (!done) {
      const auto now = Clock::now();
      const auto lim = limit(deadline);
      if (now >= lim) {
        close();
        ioc.restart();
        ioc.run();  // delivers the aborted completion; returns at once
        return false;
      }
      ioc.run_one_until(std::min(lim, now + 20ms));
      if (ioc.stopped()) ioc.restart();
    }
    return true;
  }

  bool resolve(Clock::time_point deadline, std::string& error) {
    if (!endpoints.empty()) return true;
    beast::error_code ec;
    const auto address = asio::ip::make_address(opt.url.host, ec);
    if (!ec) {
      endpoints = {tcp::endpoint(address, opt.url.port)};
      return true;
    }
    // getaddrinfo cannot be cancelled: it runs on a detached thread that touches only this
    // shared state, and we stop waiting for it at the deadline.
    struct State {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      std::vector<tcp::endpoint> result;
      std::string error;
    };
    auto state = std::make_shared<State>();
    std::thread([state, host = opt.url.host, port = std::to_string(opt.url.port)] {
      asio::io_context local;
      tcp::resolver resolver(local);
      beast::error_code rec;
      auto results = resolver.resolve(host, port, rec);
      std::vector<tcp::endpoint> eps;
      for (const auto& r : results) eps.push_back(r.endpoint());
      std::lock_guard lock(state->mu);
      state->result = std::move(eps);
      if (rec) state->error = rec.message();
      state->done = true;
      state->cv.notify_all();
    }).detach();
    std::unique_lock lock(state->mu);
    while (!state->done) {
      const auto lim = limit(deadline);
      const auto now = Clock::now();
      if (now >= lim) {
        error = "resolving " + opt.url.host + " did not finish before the deadline";
        return false;
      }
      state->cv.wait_until(lock, std::min(lim, now + 20ms));
    }
    if (state->result.empty()) {
      error = "cannot resolve " + opt.url.host +
              (state->error.empty() ? std::string() : ": " + state->error);
      return false;
    }
    endpoints = std::move(state->result);
    return true;
  }

  bool connect(Clock::time_point deadline, std::string& error) {
    if (!resolve(deadline, error)) return false;
    bool done = false;
    beast::error_code ec;
    asio::async_connect(socket, endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!run(done, deadline)) {
      error = "connect to " + host_header + " did not finish before the deadline";
      return false;
    }
    if (ec) {
      error = "connect to " + host_header + ": " + ec.message();
      endpoints.clear();  // the address may have changed
      close();
      return false;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    return true;
  }

  Attempt send_once(const http::request<http::string_body>& req, Clock::time_point deadline) {
    Attempt a;
    const bool reused = socket.is_open();
    if (!reused && !connect(deadline, a.error)) return a;

    bool done = false;
    beast::error_code ec;
    http::async_write(socket, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!run(done, deadline)) {
      a.error = "sending to " + host_header + " did not finish before the deadline";
      return a;
    }
    if (ec) {
      a.error = "send to " + host_header + ": " + ec.message();
      a.stale = reused;
      close();
      return a;
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);  // responses are tiny; a huge one is not a collector
    done = false;
    http::async_read(socket, buffer, parser, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!run(done, deadline)) {
      a.error = "no response from " + host_header + " before the deadline";
      return a;
    }
    if (ec) {
      a.error = "reading the response of " + host_header + ": " + ec.message();
      // A kept-alive connection the server closed while idle fails like this before any byte.
      a.stale = reused && !parser.got_some() &&
                (ec == http::error::end_of_stream || ec == asio::error::eof ||
                 ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
      close();
      return a;
    }
    auto& res = parser.get();
    a.got_response = true;
    a.status = res.result_int();
    a.body = std::move(res.body());
    if (auto ra = res[http::field::retry_after]; !ra.empty()) {
      unsigned seconds = 0;
      auto [ptr, rec] = std::from_chars(ra.data(), ra.data() + ra.size(), seconds);
      if (rec == std::errc() && ptr == ra.data() + ra.size())
        a.retry_after = std::chrono::seconds(seconds);
    }
    if (!res.keep_alive()) close();
    return a;
  }

  // Sleeps until `t` unless the deadline or an interrupt comes first; false in that case.
  bool sleep_until(Clock::time_point t, Clock::time_point deadline) {
    while (true) {
      const auto now = Clock::now();
      if (now >= limit(deadline)) return false;
      if (now >= t) return true;
      std::this_thread::sleep_for(std::min<Clock::duration>(t - now, 20ms));
    }
  }
};

OtlpHttpClient::OtlpHttpClient(OtlpHttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OtlpHttpClient::~OtlpHttpClient() = default;

void OtlpHttpClient::interrupt_at(Clock::time_point deadline) {
  const Clock::rep wanted = deadline.time_since_epoch().count();
  Clock::rep current = impl_->interrupt_rep.load();
  while (wanted < current && !impl_->interrupt_rep.compare_exchange_weak(current, wanted)) {
  }
}

HttpPostResult OtlpHttpClient::post(std::string_view body, Clock::time_point deadline) {
  Impl& im = *impl_;
  http::request<http::string_body> req{http::verb::post, im.opt.url.target, 11};
  req.set(http::field::host, im.host_header);
  req.set(http::field::user_agent, "userservice-otlp-exporter/1.0");
  req.set(http::field::content_type, im.opt.content_type);
  for (const auto& [name, value] : im.opt.headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = std::string(body);
  req.prepare_payload();

  HttpPostResult result;
  auto backoff = std::chrono::duration_cast<Clock::duration>(im.opt.initial_backoff);
  for (int attempt = 0;; ++attempt) {
    const auto attempt_deadline =
        std::min(deadline, Clock::now() +
                               std::chrono::duration_cast<Clock::duration>(im.opt.request_timeout));
    Impl::Attempt a = im.send_once(req, attempt_deadline);
    if (a.stale) a = im.send_once(req, attempt_deadline);  // not counted as a retry
    ++result.attempts;
    bool retryable = false;
    if (a.got_response) {
      result.status = a.status;
      result.body = std::move(a.body);
      if (a.status >= 200 && a.status < 300) {
        result.outcome = HttpPostResult::Outcome::ok;
        result.error.clear();
        return result;
      }
      result.error = "HTTP " + std::to_string(a.status) + " from " + im.host_header;
      if (!is_retryable_status(a.status)) {
        result.outcome = HttpPostResult::Outcome::rejected;
        return result;
      }
      retryable = true;
    } else {
      result.error = std::move(a.error);
      // A refused or dropped connection is worth another try; a timeout already used the time.
      retryable = Clock::now() < im.limit(attempt_deadline);
    }
    result.outcome = HttpPostResult::Outcome::failed;
    if (!retryable || attempt >= im.opt.max_retries) return result;
    const auto wait = a.retry_after.value_or(backoff);
    backoff *= 2;
    const auto resume = Clock::now() + wait;
    if (resume >= im.limit(deadline)) return result;  // no time left for another attempt
    if (!im.sleep_until(resume, deadline)) return result;
  }
}

}  // namespace userservice::telemetry
