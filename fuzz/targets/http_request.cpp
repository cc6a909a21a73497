// Raw bytes from a client, through what the server does before a handler does I/O: Beast's
// request parser with the server's limits (pipelined requests included), request correlation
// (X-Request-Id, traceparent, tracestate), the real route table, the JSON media-type check,
// the Idempotency-Key wrapper, body decoding, validation and the services' decisions up to
// their first store call (stub stores stop there).
//
// Oracles: nothing escapes as an exception other than domain::Error (which the server maps)
// or the stub's StoreReached; no validation path produces a 5xx; every response the server
// would send has a valid UTF-8 JSON body and header values without CR, LF or NUL.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/http/request_head.h"
#include "adapters/http/router.h"
#include "adapters/http/routes.h"
#include "adapters/http/server.h"
#include "adapters/http/trace_context.h"
#include "domain/random.h"
#include "services/account_service.h"
#include "services/admin_command_service.h"
#include "services/listing_service.h"
#include "support/check.h"
#include "support/stub_stores.h"

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using namespace userservice;
using userservice::fuzz::StoreReached;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // as in server.cpp

domain::TimePoint fixed_now() { return domain::TimePoint(std::chrono::seconds(1'800'000'000)); }

struct World {
  std::unique_ptr<services::UserStore> users = fuzz::make_stub_user_store();
  std::unique_ptr<services::CommandStore> commands_store = fuzz::make_stub_command_store();
  std::unique_ptr<services::ListingStore> listing_store = fuzz::make_stub_listing_store();
  std::unique_ptr<services::IdempotencyStore> keys = fuzz::make_stub_idempotency_store();
  domain::Xoshiro256Random random{42};
  services::AccountService accounts{*users, random, fixed_now};
  services::AdminCommandService commands{*commands_store, random, fixed_now};
  services::ListingService listing{*listing_store, fixed_now};
  http::Router router;
  http::ServerOptions options;
  net::io_context io;

  World() { http::add_internal_routes(router, {accounts, commands, listing, *keys}); }
};

World& world() {
  static World w;
  return w;
}

void check_response(const http::Response& res) {
  FUZZ_CHECK(res.status >= 200 && res.status < 600);
  for (const auto& [name, value] : res.headers) {
    for (char c : name + value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
  if (!res.body.empty())
    fuzz::check_output(res.body, res.content_type.starts_with("application/json"));
}

// Runs the handler to completion (or to its first store call) on the target's io_context.
http::Response run_handler(World& w, const http::Handler& handler, http::Request& req) {
  http::Response res;
  std::exception_ptr failure;
  bool done = false;
  net::co_spawn(w.io, handler(req), [&](std::exception_ptr e, http::Response r) {
    failure = e;
    res = std::move(r);
    done = true;
  });
  w.io.restart();
  w.io.run();
  FUZZ_CHECK(done);  // a handler that waits on nothing would hang the server's request
  if (!failure) return res;
  try {
    std::rethrow_exception(failure);
  } catch (const StoreReached&) {
    return http::Response{204, {}, {}, {}};
  } catch (const domain::Error& e) {
    // Validation answers 4xx; a 5xx before any I/O would be a bug in our own code.
    FUZZ_CHECK(http::to_http_status(e.code()) < 500);
    FUZZ_CHECK(is_valid_utf8(e.message()));
    return http::error_response(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "handler threw %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

void serve(World& w, bhttp::request_parser<bhttp::string_body>& parser) {
  http::Request req;
  http::fill_request(req, parser.get());
  if (auto parent =
          http::init_correlation(req.ctx, req.header("x-request-id"), req.header("traceparent"))) {
    req.ctx.parent_span_id = parent->parent_id;
    req.ctx.trace_flags = parent->flags;
    req.ctx.trace_state = std::string(http::sane_tracestate(req.header("tracestate")));
    fuzz::check_output(req.ctx.trace_state, false);
  }
  fuzz::check_output(req.ctx.request_id, false);
  req.body = std::move(parser.get().body());
  http::Routed routed = http::route_request(w.router, req, w.options.json_api);
  if (routed.answer) {
    check_response(*routed.answer);
    return;
  }
  req.ctx.deadline = Clock::now() + std::chrono::seconds(5);
  check_response(run_handler(w, *routed.handler, req));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Up to 8 pipelined requests on one "connection", as the server reads them.
  for (int i = 0; i < 8 && !input.empty(); ++i) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(w.options.body_limit);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!input.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(net::buffer(input.data(), input.size()), ec);
      input.remove_prefix(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        if (used == 0) break;  // the rest never completes a message: the client would stall
        continue;
      }
      if (ec) break;
    }
    if (ec || !parser.is_done()) return 0;  // answered 400/413/431 or timed out, then closed
    serve(w, parser);
    if (!parser.keep_alive()) return 0;
  }
  return 0;
}
