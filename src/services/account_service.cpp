#include "services/account_service.h"

#include "domain/user_id.h"

namespace userservice::services {

boost::asio::awaitable<bool> AccountService::exists(const RequestContext& ctx,
                                                     std::string_view user_id) {
  domain::require_well_formed_user_id(user_id);
  co_return co_await store_.live_account_exists(ctx, user_id);
}

}  // namespace userservice::services
