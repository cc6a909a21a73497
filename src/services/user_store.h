#pragma once
// The narrow storage interface the application services depend on. The PostgreSQL
// adapter implements it; services never see SQL or libpq.
#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "common/context.h"

namespace userservice::services {

class UserStore {
 public:
  virtual ~UserStore() = default;

  // True when a live (not soft-deleted) account has this id.
  virtual boost::asio::awaitable<bool> live_account_exists(const RequestContext& ctx,
                                                           std::string_view user_id) = 0;
};

}  // namespace userservice::services
