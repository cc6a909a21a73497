#pragma once
// The completion handler of a coroutine started with co_spawn and left to run on its own: the
// one place that turns the exception that ended it into something a caller can log.
//   co_spawn(io, session(), on_coroutine_failure([&](const char* what) { log(what); }));
#include <exception>
#include <utility>

namespace userservice {

// Calls `report(what)` when the coroutine ended with an exception: `what` is what() of a
// std::exception, nullptr for any other exception. A coroutine that completes reports nothing.
template <typename Report>
auto on_coroutine_failure(Report report) {
  return [report = std::move(report)](std::exception_ptr e) mutable {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      report(ex.what());
    } catch (...) {
      report(nullptr);
    }
  };
}

}  // namespace userservice
