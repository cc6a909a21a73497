#pragma once
// Path-template router: "/users/{user_id}/exists" (the full paths: adapters/http/routes.cpp).
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/message.h"
#include "common/percent_decode.h"

namespace userservice::http {

class Router {
 public:
  // `pattern` segments are literals (which may contain ':', e.g. "eligibility:batch") or
  // "{name}" params. The pattern itself is the route name used in logs and metrics.
  // Throws std::invalid_argument on a malformed pattern, Method::other or a duplicate.
  void add(Method m, std::string pattern, Handler h);

  struct Match {
    const Handler* handler = nullptr;  // null: 404 (path_matched false) or 405
    std::string_view route;            // the pattern; valid while the Router lives
    std::string allow;                 // "GET, HEAD" for 405: methods of every pattern matching
    bool path_matched = false;
  };

  // Fills req.params on success. Each param is percent-decoded AFTER splitting on '/', so %2F
  // stays inside one value; an invalid %-escape throws domain::Error(invalid_request).
  // When several patterns match, the most specific one wins (the first differing segment is a
  // literal), so ".../users/eligibility:batch" beats ".../users/{user_id}".
  Match match(Request& req) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the param name
    bool param = false;
  };
  struct Route {
    Method method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// The one percent-decoder (common/percent_decode.h): the router's path params and
// query_pairs (handlers/common.h) decode request targets with it.
using common::percent_decode;

}  // namespace userservice::http
