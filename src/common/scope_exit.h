#pragma once
// Runs a callable when the scope ends, however it ends (return, exception, co_return):
//   ScopeExit release([&] { pool.give_back(conn); });
#include <utility>

namespace userservice {

template <typename F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ~ScopeExit() { f_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  F f_;
};

}  // namespace userservice
