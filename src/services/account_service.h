#pragma once
#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "common/context.h"
#include "services/user_store.h"

namespace userservice::services {

// Account reads and writes for every caller group (api.md §3–§6, §8).
class AccountService {
 public:
  explicit AccountService(UserStore& store) : store_(store) {}

  // api.md §3 `users/{id}/exists`: soft-deleted accounts do not exist.
  boost::asio::awaitable<bool> exists(const RequestContext& ctx, std::string_view user_id);

 private:
  UserStore& store_;
};

}  // namespace userservice::services
