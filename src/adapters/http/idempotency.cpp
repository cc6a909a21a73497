#include "adapters/http/idempotency.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <memory>

#include "domain/error.h"
#include "domain/page_token.h"
#include "services/idempotency.h"

namespace userservice::http {

namespace {

using domain::Error;
using domain::ErrorCode;

constexpr std::size_t kMaxKeyLength = 255;

// JSON with object members sorted by key, recursively: equal documents give equal text.
void canonical(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(obj.size());
      for (const auto& kv : obj) members.push_back(&kv);
      std::sort(members.begin(), members.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out += '{';
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i) out += ',';
        out += boost::json::serialize(boost::json::value(members[i]->key()));
        out += ':';
        canonical(members[i]->value(), out);
      }
      out += '}';
      break;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        canonical(item, out);
      }
      out += ']';
      break;
    }
    default:
      out += boost::json::serialize(v);
  }
}

std::string hex64(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xf];
  return out;
}

// Two fixed SipHash keys give 128 bits: callers are trusted, the hash only has to tell
// different requests apart, not resist forgery.
constexpr std::array<std::uint8_t, 16> kFingerprintKeyA{
    0x69, 0x64, 0x65, 0x6d, 0x70, 0x6f, 0x74, 0x65, 0x6e, 0x63, 0x79, 0x2d, 0x6b, 0x65, 0x79, 0x41};
constexpr std::array<std::uint8_t, 16> kFingerprintKeyB{
    0x75, 0x73, 0x65, 0x72, 0x73, 0x65, 0x72, 0x76, 0x69, 0x63, 0x65, 0x2d, 0x66, 0x70, 0x2d, 0x42};

}  // namespace

std::optional<std::string> idempotency_key(const Request& req) {
  std::optional<std::string_view> found;
  for (const auto& [name, value] : req.headers) {
    if (name != "idempotency-key") continue;
    if (found) throw domain::invalid_request("Idempotency-Key given more than once");
    found = value;
  }
  if (!found) return std::nullopt;
  std::string_view key = *found;
  if (key.size() >= 2 && key.front() == '"' && key.back() == '"') {
    key = key.substr(1, key.size() - 2);
  }
  const bool ok = !key.empty() && key.size() <= kMaxKeyLength &&
                  std::all_of(key.begin(), key.end(),
                              [](char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  if (!ok) {
    throw domain::invalid_request(
        "Idempotency-Key must be 1 to 255 visible ASCII characters (no quotes or backslashes)");
  }
  return std::string(key);
}

std::string request_fingerprint(std::string_view method, std::string_view path,
                                std::string_view body) {
  std::string text(method);
  text += '\n';
  text += path;
  text += '\n';
  boost::system::error_code ec;
  boost::json::value doc = body.empty() ? boost::json::value() : boost::json::parse(body, ec);
  if (ec) {
    text += "raw:";
    text += body;
  } else {
    canonical(doc, text);
  }
  return hex64(domain::siphash24(kFingerprintKeyA, text)) +
         hex64(domain::siphash24(kFingerprintKeyB, text));
}

Handler idempotent(Handler inner, services::IdempotencyStore& store) {
  return [inner = std::move(inner), &store](Request& req) -> boost::asio::awaitable<Response> {
    const std::optional<std::string> key = idempotency_key(req);
    if (!key) co_return co_await inner(req);

    std::unique_ptr<services::KeyedCall> call =
        store.begin(*key, request_fingerprint(req.method_text, req.path, req.body));
    // The handler's statements run inside the call's transaction (see Pool::run); its first
    // round trip also claims the key.
    req.ctx.transaction = call->transaction();
    Response response;
    std::exception_ptr failure;       // 5xx or anything unexpected: never stored
    std::exception_ptr client_error;  // 4xx decided by the handler: stored like a success
    try {
      response = co_await inner(req);
    } catch (const Error& e) {
      if (to_http_status(e.code()) >= 500) {
        failure = std::current_exception();
      } else {
        client_error = std::current_exception();
        response = error_response(e);
      }
    } catch (...) {
      failure = std::current_exception();
    }
    req.ctx.transaction = nullptr;

    switch (call->state()) {
      case services::KeyedCall::State::taken: {
        // An earlier request committed an answer under this key: whatever this one ran is
        // rolled back, and that answer is given again.
        services::KeyedCall::Replay replay = co_await call->replay(req.ctx);
        if (!replay.same_request) {
          throw Error(ErrorCode::conflict,
                      "Idempotency-Key was already used for a different request");
        }
        Response again;
        again.status = replay.answer.status;
        again.body = std::move(replay.answer.body);
        if (again.body.empty()) again.content_type = {};
        again.headers.emplace_back("Idempotent-Replayed", "true");
        co_return again;
      }
      case services::KeyedCall::State::claimed: {
        if (failure || response.status >= 500) break;  // rolled back when `call` goes
        // A named local: g++ 12 destroys braced temporaries inside co_await twice.
        const services::StoredAnswer answer{response.status, response.body};
        co_await call->commit(req.ctx, answer);
        break;
      }
      case services::KeyedCall::State::unused:  // decided before any statement: nothing to keep
      case services::KeyedCall::State::failed:  // nothing of it commits
        break;
    }
    if (failure) std::rethrow_exception(failure);
    if (client_error) std::rethrow_exception(client_error);
    co_return response;
  };
}

}  // namespace userservice::http
