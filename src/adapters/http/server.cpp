#include "adapters/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <list>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <variant>

#include "adapters/http/request_head.h"
#include "adapters/http/trace_context.h"
#include "common/coroutine_failure.h"
#include "common/host_port.h"
#include "domain/random.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace userservice::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;
using domain::Error;
using domain::ErrorCode;

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// First read of a request: one syscall usually takes the whole header. Also the only buffer an
// idle keep-alive connection holds.
constexpr std::size_t kFirstRead = 1024;
constexpr std::string_view kUnmatched = "unmatched";
// After an early error response the client may still be sending; read and discard this long
// so that close() does not RST the response away.
constexpr auto kLingerTime = 500ms;
constexpr std::size_t kLingerBytes = 256 * 1024;
// A handler that ignores cancellation on force-close gets this long before shutdown gives up.
constexpr auto kForceCloseGrace = 1s;

// One TCP connection. Lives in its session coroutine's frame; the server only keeps a pointer.
struct Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)), timer(stream.get_executor()) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  net::steady_timer timer;  // handler deadline; cancelled to abort the handler on force-close
  bool idle = true;         // waiting for the first byte of a request
  bool kept_alive = false;  // idle between requests (not a new connection's first wait)
  Clock::time_point idle_since{};
  bool killed = false;  // force-closed by shutdown: send nothing more
  std::list<Session*>::iterator self;
  // The request being served. One per connection, reset by fill_request for each request, so
  // keep-alive requests reuse its buffers (ids, path, headers, params, body).
  Request request;
};

// Memory for the header fields Beast allocates one by one (each field of the request as it is
// parsed, each field of the response): a bump arena in the request's coroutine frame, so a
// usual request takes none of them from the heap. Freeing inside the arena does nothing; its
// memory goes with the frame. What does not fit comes from the heap and goes back to it.
class FieldArena {
 public:
  void* allocate(std::size_t n, std::size_t align) {
    const std::size_t start = (used_ + align - 1) & ~(align - 1);
    if (align <= alignof(std::max_align_t) && start + n <= sizeof(buf_)) {
      used_ = start + n;
      return buf_ + start;
    }
    return ::operator new(n);
  }
  void deallocate(void* p, std::size_t n) noexcept {
    if (p >= static_cast<void*>(buf_) && p < static_cast<void*>(buf_ + sizeof(buf_))) return;
    ::operator delete(p, n);
  }

 private:
  alignas(std::max_align_t) std::byte buf_[1024];
  std::size_t used_ = 0;
};

template <class T>
struct ArenaAllocator {
  using value_type = T;
  FieldArena* arena;
  explicit ArenaAllocator(FieldArena& a) noexcept : arena(&a) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena(other.arena) {}
  T* allocate(std::size_t n) { return static_cast<T*>(arena->allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { arena->deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const ArenaAllocator<U>& other) const noexcept {
    return arena == other.arena;
  }
};

using ArenaFields = bhttp::basic_fields<ArenaAllocator<char>>;
using BeastResponse = bhttp::response<bhttp::string_body, ArenaFields>;

// What the connection's Request may keep between requests; a larger one (a big body, long
// headers) is dropped, as the read buffer is.
constexpr std::size_t kKeptRequestBytes = 4 * kFirstRead;

std::size_t held_bytes(const Request& r) {
  std::size_t n = r.method_text.capacity() + r.target.capacity() + r.path.capacity() +
                  r.query.capacity() + r.body.capacity() + r.content_type.capacity() +
                  r.ctx.trace_state.capacity();
  for (const auto& [name, value] : r.headers) n += name.capacity() + value.capacity();
  for (const auto& [name, value] : r.params) n += name.capacity() + value.capacity();
  return n;
}

void arm(beast::tcp_stream& stream, Clock::time_point from, std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) {
    stream.expires_never();
  } else {
    stream.expires_at(from + d);
  }
}

// How a failed read ends the exchange.
enum class ReadFailure { io, too_large, header_too_large, malformed };

ReadFailure classify(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) return ReadFailure::too_large;
  if (ec == bhttp::error::header_limit) return ReadFailure::header_too_large;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      ec != bhttp::error::need_more && ec != bhttp::error::buffer_overflow) {
    return ReadFailure::malformed;
  }
  return ReadFailure::io;  // EOF, reset, timeout, cancelled: nobody to answer
}

}  // namespace

struct Server::Impl {
  Impl(net::io_context& io_, ServerOptions o, const Router& r, telemetry::Logger& l,
       telemetry::Metrics* m)
      : io(io_), opts(std::move(o)), router(r), log(l), metrics(m), acceptor(io_), drained(io_) {}

  net::io_context& io;
  ServerOptions opts;
  const Router& router;
  telemetry::Logger& log;
  telemetry::Metrics* metrics;
  tcp::acceptor acceptor;
  net::steady_timer drained;  // cancelled when the last session ends during shutdown
  std::list<Session*> sessions;
  std::string local_address;
  bool stopping = false;
};

namespace {

using Impl = Server::Impl;

// The request's server span (OTel HTTP semantic conventions): its id is ctx.span_id, which
// the statements' client spans already name as their parent.
void record_server_span(const telemetry::Tracer& tracer, const Request& req, std::string_view route,
                        unsigned status, double seconds) {
  telemetry::SpanData span;
  span.trace_id = req.ctx.trace_id;
  span.span_id = req.ctx.span_id;
  span.parent_span_id = req.ctx.parent_span_id;
  span.trace_state = req.ctx.trace_state;
  span.flags = req.ctx.trace_flags;
  span.kind = telemetry::SpanKind::server;
  span.name = req.method_text;
  if (route != kUnmatched) {
    span.name += ' ';
    span.name += route;
  }
  span.end_unix_nano = telemetry::unix_nanos_now();
  span.start_unix_nano = span.end_unix_nano - static_cast<std::uint64_t>(seconds * 1e9);
  span.attributes.push_back({"http.request.method", req.method_text});
  if (route != kUnmatched) span.attributes.push_back({"http.route", std::string(route)});
  span.attributes.push_back({"url.path", req.path});
  span.attributes.push_back({"http.response.status_code", static_cast<std::int64_t>(status)});
  span.attributes.push_back({"http.request_id", req.ctx.request_id});
  // Server spans are errors for 5xx only: a 4xx is the caller's mistake, answered correctly.
  if (status >= 500) span.status = telemetry::SpanStatus::error;
  tracer.end(std::move(span));
}

// Runs the handler but never throws: operator|| waits for one *successful* branch, so a
// throwing handler would otherwise let the timer win and turn every error into a 504.
net::awaitable<Response> guarded(const Handler& handler, Request& req,
                                 std::exception_ptr& failure) {
  try {
    co_return co_await handler(req);
  } catch (...) {
    failure = std::current_exception();
  }
  co_return Response{};
}

net::awaitable<Response> dispatch(Impl& im, Session& s, Request& req, std::string_view& route) {
  Routed routed = route_request(im.router, req, im.opts.json_api);
  if (routed.answer) co_return std::move(*routed.answer);
  route = routed.route;
  const Handler& handler = *routed.handler;

  req.ctx.deadline = im.opts.request_timeout > std::chrono::nanoseconds::zero()
                         ? Clock::now() + im.opts.request_timeout
                         : Clock::time_point::max();
  s.timer.expires_at(req.ctx.deadline);
  std::exception_ptr failure;
  // The timer fires at the deadline, or is cancelled by a force-close; either way the handler
  // is cancelled and we stop waiting for it.
  auto outcome = co_await (guarded(handler, req, failure) || s.timer.async_wait(use_nothrow));
  if (outcome.index() == 1) {
    if (s.killed) {  // never sent; logged and counted as what it is
      co_return error_response(Error(ErrorCode::service_unavailable, "server shutting down"));
    }
    im.log.warn("request deadline exceeded", {{"server", im.opts.name},
                                              {"route", route},
                                              {"request_id", req.ctx.request_id},
                                              {"trace_id", req.ctx.trace_id},
                                              {"span_id", req.ctx.span_id}});
    co_return error_response(Error(ErrorCode::deadline_exceeded, "request deadline exceeded"));
  }
  if (!failure) co_return std::get<0>(std::move(outcome));
  try {
    std::rethrow_exception(failure);
  } catch (const Error& e) {
    Response r = error_response(e);
    im.log.log(r.status >= 500 ? telemetry::Level::warn : telemetry::Level::debug, "request failed",
               {{"server", im.opts.name},
                {"route", route},
                {"code", domain::to_string(e.code())},
                {"message", e.message()},
                {"detail", e.detail()},
                {"request_id", req.ctx.request_id},
                {"trace_id", req.ctx.trace_id},
                {"span_id", req.ctx.span_id}});
    co_return r;
  } catch (const std::exception& e) {
    im.log.error("handler failed", {{"server", im.opts.name},
                                    {"route", route},
                                    {"error", e.what()},
                                    {"request_id", req.ctx.request_id},
                                    {"trace_id", req.ctx.trace_id},
                                    {"span_id", req.ctx.span_id}});
  } catch (...) {
    im.log.error("handler failed", {{"server", im.opts.name},
                                    {"route", route},
                                    {"error", "non-standard exception"},
                                    {"request_id", req.ctx.request_id},
                                    {"trace_id", req.ctx.trace_id},
                                    {"span_id", req.ctx.span_id}});
  }
  // Never e.what(): it may carry SQL or hostnames.
  co_return error_response(Error(ErrorCode::internal_error, "internal error"));
}

BeastResponse to_beast(Response& res, const Request& req, unsigned version, bool keep_alive,
                       FieldArena& arena) {
  BeastResponse out(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(ArenaAllocator<char>(arena)));
  out.version(version);
  out.result(res.status);
  for (auto& [name, value] : res.headers) out.insert(name, value);
  out.set("X-Request-Id", req.ctx.request_id);
  out.keep_alive(keep_alive);
  // RFC 9110: no body (and no Content-Length) for 1xx/204/304; HEAD gets the length only.
  if (res.status < 200 || res.status == 204 || res.status == 304) return out;
  if (!res.body.empty() && !res.content_type.empty()) {
    out.set(bhttp::field::content_type, res.content_type);
  }
  out.content_length(res.body.size());
  if (req.method != Method::head) out.body() = std::move(res.body);
  return out;
}

// Half-closes so the client sees FIN after our last response; with `linger`, first reads and
// discards what the client still sends, because closing with unread input sends RST, which can
// destroy the response in the client's buffers before it reads it.
net::awaitable<void> close_connection(Session& s, bool linger) {
  beast::error_code ec;
  s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (linger && !ec) {
    s.stream.expires_after(kLingerTime);
    std::size_t total = 0;
    while (total < kLingerBytes) {
      s.buffer.clear();
      auto [rec, n] = co_await s.stream.async_read_some(s.buffer.prepare(4096), use_nothrow);
      if (rec) break;
      total += n;
    }
  }
  s.stream.close();
}

// Reads one request and answers it. Returns true when the connection stays open.
net::awaitable<bool> serve_one(Impl& im, Session& s, Clock::time_point started) {
  const ServerOptions& o = im.opts;
  Request& req = s.request;
  // The body is read into the previous request's body buffer (emptied).
  req.body.clear();
  FieldArena arena;
  bhttp::request_parser<bhttp::string_body, ArenaAllocator<char>> parser(
      std::piecewise_construct, std::forward_as_tuple(std::move(req.body)),
      std::make_tuple(ArenaAllocator<char>(arena)));
  parser.header_limit(kHeaderLimit);
  parser.body_limit(o.body_limit);  // Content-Length is checked against it before any body read

  // Read-header timeout runs from the first byte; the read timeout covers header and body.
  arm(s.stream, started, o.read_header_timeout);
  auto [ec, n] = co_await bhttp::async_read_header(s.stream, s.buffer, parser, use_nothrow);
  if (!ec && !parser.is_done()) {
    const auto& msg = parser.get();
    if (msg.version() >= 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      s.stream.expires_after(o.write_timeout);
      auto [wec, wn] = co_await net::async_write(s.stream, net::buffer(k100), use_nothrow);
      if (wec) co_return false;
    }
    arm(s.stream, started, o.read_timeout);
    std::tie(ec, n) = co_await bhttp::async_read(s.stream, s.buffer, parser, use_nothrow);
  }
  if (s.killed) co_return false;
  std::optional<ReadFailure> failure;
  if (ec) {
    failure = classify(ec);
    if (*failure == ReadFailure::io) co_return false;
  }

  fill_request(req, parser.get());
  if (auto parent =
          init_correlation(req.ctx, req.header("x-request-id"), req.header("traceparent"))) {
    req.ctx.parent_span_id = parent->parent_id;
    req.ctx.trace_flags = parent->flags;
    req.ctx.trace_state.assign(sane_tracestate(req.header("tracestate")));
  }
  if (im.metrics != nullptr) im.metrics->http_request_started(o.name);

  Response res;
  std::string_view route = kUnmatched;
  bool keep_alive = false;
  bool linger = false;
  unsigned version = parser.get().version() == 10 ? 10 : 11;
  if (!failure) {
    keep_alive = parser.get().keep_alive();
    req.body = std::move(parser.get().body());
    res = co_await dispatch(im, s, req, route);
  } else {
    // The rest of the request was not read, so the connection cannot carry another one.
    linger = true;
    switch (*failure) {
      case ReadFailure::too_large:
        res = error_response(
            Error(ErrorCode::request_too_large,
                  "request body exceeds " + std::to_string(o.body_limit) + " bytes"));
        break;
      case ReadFailure::header_too_large:
        res = error_response(Error(ErrorCode::invalid_request, "request header too large"));
        break;
      default:
        res = error_response(Error(ErrorCode::invalid_request, "malformed HTTP request"));
        break;
    }
  }
  // Decided last: a shutdown that began while the handler ran closes after this response.
  keep_alive = keep_alive && !im.stopping;

  const unsigned status = res.status;
  auto out = to_beast(res, req, version, keep_alive, arena);
  beast::error_code wec;
  if (!s.killed) {  // a force-closed connection gets no answer
    s.stream.expires_after(o.write_timeout);
    std::tie(wec, n) = co_await bhttp::async_write(s.stream, out, use_nothrow);
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  im.log.info("request", {{"server", o.name},
                          {"method", req.method_text},
                          {"route", route},
                          {"path", req.path},
                          {"status", status},
                          {"duration_ms", seconds * 1000.0},
                          {"request_id", req.ctx.request_id},
                          {"trace_id", req.ctx.trace_id},
                          {"span_id", req.ctx.span_id}});
  if (im.metrics != nullptr) {
    im.metrics->http_request_finished(o.name, route, to_string(req.method), status, seconds);
  }
  if (o.tracer != nullptr && o.tracer->recording(req.ctx)) {
    record_server_span(*o.tracer, req, route, status, seconds);
  }
  if (wec || s.killed) co_return false;
  if (!keep_alive) {
    co_await close_connection(s, linger);
    co_return false;
  }
  co_return true;
}

net::awaitable<void> run_session(std::shared_ptr<Impl> im, tcp::socket socket) {
  Session s(std::move(socket));
  im->sessions.push_front(&s);
  s.self = im->sessions.begin();
  struct Unregister {
    Impl& im;
    Session& s;
    ~Unregister() {
      im.sessions.erase(s.self);
      if (im.stopping && im.sessions.empty()) im.drained.cancel();
    }
  } unregister{*im, s};

  bool first = true;
  for (;;) {
    if (s.buffer.size() == 0) {
      if (im->stopping) co_return;
      // A new connection gets the read-header timeout for its first byte; between keep-alive
      // requests the idle timeout applies. Shutdown cancels this read.
      s.idle = true;
      s.kept_alive = !first;
      s.idle_since = Clock::now();
      arm(s.stream, s.idle_since, first ? im->opts.read_header_timeout : im->opts.idle_timeout);
      auto [ec, n] = co_await s.stream.async_read_some(s.buffer.prepare(kFirstRead), use_nothrow);
      s.idle = false;
      s.kept_alive = false;
      if (ec) co_return;  // EOF, reset, idle timeout or shutdown
      s.buffer.commit(n);
    }
    first = false;
    if (!co_await serve_one(*im, s, Clock::now())) co_return;
    // Keep idle connections cheap: drop buffers grown by a large request.
    if (s.buffer.size() == 0 && s.buffer.capacity() > 2 * kFirstRead) s.buffer.shrink_to_fit();
    if (held_bytes(s.request) > kKeptRequestBytes) s.request = Request{};
  }
}

// Under the connection cap, or room made by closing the keep-alive connection that has idled
// longest (it has nothing in flight; its client reconnects when it needs to). Sessions that
// are already closing count until their coroutine ends, so room is made one ahead.
bool make_room(Impl& im) {
  if (im.opts.max_connections == 0 || im.sessions.size() < im.opts.max_connections) return true;
  Session* oldest = nullptr;
  std::size_t closing = 0;
  for (Session* s : im.sessions) {
    if (s->killed) {
      ++closing;
      continue;
    }
    if (s->kept_alive && (oldest == nullptr || s->idle_since < oldest->idle_since)) oldest = s;
  }
  if (im.sessions.size() - closing < im.opts.max_connections) return true;
  if (oldest == nullptr) return false;
  oldest->killed = true;  // nothing in flight: it only stops waiting for a next request
  beast::error_code ec;
  oldest->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  oldest->stream.cancel();
  if (im.metrics != nullptr) im.metrics->http_connection_closed_for_room(im.opts.name);
  return true;
}

// Every connection is busy: a short 503 and close, rather than a connection left hanging in
// the backlog. The request may still be arriving: read and discard it briefly (as after any
// early answer) so that closing does not reset the answer away.
net::awaitable<void> refuse(std::shared_ptr<Impl> im, tcp::socket socket) {
  static constexpr std::string_view kBody =
      R"({"error":{"code":"service_unavailable","message":"too many connections, retry later"}})";
  // Like every response, it carries an X-Request-Id (minted: the request was not read).
  const std::string busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
      "X-Request-Id: " +
      domain::random_hex_id(32) +
      "\r\nConnection: close\r\nContent-Length: " + std::to_string(kBody.size()) + "\r\n\r\n" +
      std::string(kBody);
  if (im->metrics != nullptr) im->metrics->http_connection_refused(im->opts.name);
  Session s(std::move(socket));
  s.stream.expires_after(kLingerTime);
  auto [ec, n] = co_await net::async_write(s.stream, net::buffer(busy), use_nothrow);
  co_await close_connection(s, !ec);
}

// The co_spawn completion of a session or the accept loop: logs an exception that ended it.
auto log_failure(std::shared_ptr<Impl> im, const char* message) {
  return on_coroutine_failure([im = std::move(im), message](const char* what) {
    if (what != nullptr) {
      im->log.error(message, {{"server", im->opts.name}, {"error", what}});
    } else {
      im->log.error(message, {{"server", im->opts.name}});
    }
  });
}

net::awaitable<void> accept_loop(std::shared_ptr<Impl> im) {
  net::steady_timer backoff(im->io);
  for (;;) {
    auto [ec, socket] = co_await im->acceptor.async_accept(use_nothrow);
    if (im->stopping || !im->acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning; open sessions keep running.
      im->log.warn("http accept failed", {{"server", im->opts.name}, {"error", ec.message()}});
      backoff.expires_after(50ms);
      co_await backoff.async_wait(use_nothrow);
      continue;
    }
    if (!make_room(*im)) {
      net::co_spawn(im->io, refuse(im, std::move(socket)), net::detached);
      continue;
    }
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    net::co_spawn(im->io, run_session(im, std::move(socket)),
                  log_failure(im, "http session failed"));
  }
}

}  // namespace

Server::Server(net::io_context& io, ServerOptions opts, const Router& router,
               telemetry::Logger& log, telemetry::Metrics* metrics)
    : impl_(std::make_shared<Impl>(io, std::move(opts), router, log, metrics)) {}

// Sessions share the Impl, so destroying the Server while some still run is memory-safe; the
// owner is expected to co_await shutdown() first.
Server::~Server() = default;

void Server::listen() {
  Impl& im = *impl_;
  const std::string& addr = im.opts.address;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("cannot listen on " + addr + ": " + why);
  };
  const auto parts = split_host_port(addr);
  if (!parts) fail("expected host:port or :port");
  const std::string host(parts->host);
  const std::string port_text(parts->port);
  const auto parsed_port = parse_port(port_text);
  if (!parsed_port) fail("invalid port '" + port_text + "'");
  const unsigned short port = *parsed_port;

  std::vector<tcp::endpoint> candidates;
  if (host.empty()) {
    // Like Go's ":port": dual-stack when IPv6 exists, plain IPv4 otherwise.
    candidates = {tcp::endpoint(tcp::v6(), port), tcp::endpoint(tcp::v4(), port)};
  } else {
    beast::error_code ec;
    tcp::resolver resolver(im.io);
    auto results = resolver.resolve(host, port_text, tcp::resolver::numeric_service, ec);
    if (ec) fail(ec.message());
    for (const auto& entry : results) candidates.push_back(entry.endpoint());
  }

  beast::error_code last = net::error::host_not_found;  // resolver gave no endpoint
  for (const auto& ep : candidates) {
    tcp::acceptor acceptor(im.io);
    beast::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (ec) {
      last = ec;
      continue;
    }
    if (host.empty() && ep.protocol() == tcp::v6()) {
      acceptor.set_option(net::ip::v6_only(false), ec);
    }
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(tcp::acceptor::max_listen_connections, ec);
    if (ec) {
      last = ec;
      continue;
    }
    im.acceptor = std::move(acceptor);
    auto local = im.acceptor.local_endpoint(ec);
    im.local_address = local.address().to_string() + ":" + std::to_string(local.port());
    return;
  }
  fail(last.message());
}

unsigned short Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::start() {
  Impl& im = *impl_;
  if (im.metrics != nullptr) im.metrics->http_server_opened(im.opts.name);
  im.log.info("http listening", {{"server", im.opts.name}, {"addr", im.local_address}});
  net::co_spawn(im.io, accept_loop(impl_), log_failure(impl_, "http accept loop failed"));
}

net::awaitable<void> Server::shutdown(Clock::time_point deadline) {
  auto keep = impl_;
  Impl& im = *keep;
  im.stopping = true;
  beast::error_code ec;
  im.acceptor.close(ec);  // the accept loop wakes with operation_aborted and ends
  // Idle keep-alive connections have nothing in flight: end their read now.
  for (Session* s : im.sessions) {
    if (s->idle) s->stream.cancel();
  }
  if (!im.sessions.empty()) {
    im.drained.expires_at(deadline);
    co_await im.drained.async_wait(use_nothrow);
  }
  if (!im.sessions.empty()) {
    im.log.warn("http shutdown deadline reached, closing connections",
                {{"server", im.opts.name}, {"sessions", im.sessions.size()}});
    for (Session* s : im.sessions) {
      s->killed = true;
      s->timer.cancel();  // aborts a running handler (see dispatch)
      s->stream.close();
    }
    im.drained.expires_after(kForceCloseGrace);
    co_await im.drained.async_wait(use_nothrow);
    if (!im.sessions.empty()) {
      im.log.error("http handlers ignored cancellation",
                   {{"server", im.opts.name}, {"sessions", im.sessions.size()}});
    }
  }
  im.log.info("http server stopped", {{"server", im.opts.name}});
}

}  // namespace userservice::http
