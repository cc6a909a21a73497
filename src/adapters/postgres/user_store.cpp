#include "adapters/postgres/user_store.h"

#include "adapters/postgres/pool.h"

namespace userservice::postgres {

namespace sql {
constexpr Statement kLiveAccountExists{
    "live_account_exists",
    R"(SELECT EXISTS (SELECT 1 FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL))"};
}  // namespace sql

boost::asio::awaitable<bool> PgUserStore::live_account_exists(const RequestContext& ctx,
                                                              std::string_view user_id) {
  Result r = co_await primary_.query(sql::kLiveAccountExists, {std::string(user_id)}, ctx.deadline);
  co_return r.rows() == 1 && r.get(0, 0) == "t";
}

}  // namespace userservice::postgres
