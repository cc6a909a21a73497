#include "adapters/http/router.h"

#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <stdexcept>

#include "common/utf8.h"

namespace userservice::http {

namespace {

// Segments of a path, as views into it (the path outlives the match). A path with more
// segments than any route has matches none.
constexpr std::size_t kMaxSegments = 16;
struct Segments {
  std::array<std::string_view, kMaxSegments> items;
  std::size_t size = 0;
  bool overflow = false;  // more than kMaxSegments
};

// Splits "/a/b" into {"a","b"}; "/" gives {""}. The leading '/' is required by the caller.
Segments split_path(std::string_view path) {
  Segments out;
  path.remove_prefix(1);
  for (;;) {
    if (out.size == kMaxSegments) {
      out.overflow = true;
      break;
    }
    auto slash = path.find('/');
    out.items[out.size++] = path.substr(0, slash);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

constexpr Method kAllowOrder[] = {Method::get,   Method::head,    Method::post,   Method::put,
                                  Method::patch, Method::delete_, Method::options};

}  // namespace

void Router::add(Method m, std::string pattern, Handler h) {
  if (m == Method::other) throw std::invalid_argument("router: cannot route Method::other");
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("router: pattern must start with '/': " + pattern);
  }
  Route route{m, std::move(pattern), {}, std::move(h)};
  const Segments parts = split_path(route.pattern);
  if (parts.overflow) throw std::invalid_argument("router: too many segments in " + route.pattern);
  for (std::size_t i = 0; i < parts.size; ++i) {
    const std::string_view seg = parts.items[i];
    bool open = !seg.empty() && seg.front() == '{';
    bool close = !seg.empty() && seg.back() == '}';
    if (open != close || (open && seg.size() < 3)) {
      throw std::invalid_argument("router: malformed param in " + route.pattern);
    }
    if (open) {
      route.segments.push_back({std::string(seg.substr(1, seg.size() - 2)), true});
    } else {
      route.segments.push_back({std::string(seg), false});
    }
  }
  for (const Route& r : routes_) {
    if (r.method == route.method && r.pattern == route.pattern) {
      throw std::invalid_argument("router: duplicate route " + route.pattern);
    }
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Request& req) const {
  Match result;
  req.params.clear();
  if (req.path.empty() || req.path.front() != '/') return result;
  const Segments split = split_path(req.path);
  if (split.overflow) return result;  // longer than every route
  const std::span<const std::string_view> parts(split.items.data(), split.size);

  auto matches = [&](const Route& r) {
    if (r.segments.size() != parts.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!r.segments[i].param && r.segments[i].text != parts[i]) return false;
    }
    return true;
  };
  // True when `a` is more specific than `b`: at the first segment where one is a literal and
  // the other a param, the literal wins.
  auto more_specific = [](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].param != b.segments[i].param) return !a.segments[i].param;
    }
    return false;
  };

  const Route* best = nullptr;
  bool allowed[std::size(kAllowOrder)] = {};
  for (const Route& r : routes_) {
    if (!matches(r)) continue;
    result.path_matched = true;
    allowed[static_cast<std::size_t>(r.method)] = true;
    if (r.method == req.method && (best == nullptr || more_specific(r, *best))) best = &r;
  }
  if (best == nullptr) {
    if (result.path_matched) {
      for (Method m : kAllowOrder) {
        if (!allowed[static_cast<std::size_t>(m)]) continue;
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += to_string(m);
      }
    }
    return result;
  }

  result.route = best->pattern;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!best->segments[i].param) continue;
    auto& [name, decoded] = req.params.add();
    if (!percent_decode(parts[i], decoded)) {
      req.params.pop_back();
      throw domain::Error(domain::ErrorCode::invalid_request,
                          "invalid percent-encoding in request path",
                          "param " + best->segments[i].text);
    }
    // Bytes are data: a segment that is not UTF-8 text (or hides a NUL) never reaches a
    // handler or the database (PostgreSQL would reject it, or cut the string at the NUL).
    if (!is_clean_text(decoded)) {
      req.params.pop_back();
      throw domain::Error(domain::ErrorCode::invalid_request,
                          "request path is not valid UTF-8 or contains NUL",
                          "param " + best->segments[i].text);
    }
    name.assign(best->segments[i].text);
  }
  result.handler = &best->handler;
  return result;
}

}  // namespace userservice::http
