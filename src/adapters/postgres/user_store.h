#pragma once
#include "services/user_store.h"

namespace userservice::postgres {

class Pool;

// services::UserStore on PostgreSQL. Every statement is a named constant prepared
// once per connection; driver errors are translated here, never above.
class PgUserStore final : public services::UserStore {
 public:
  explicit PgUserStore(Pool& primary) : primary_(primary) {}

  boost::asio::awaitable<bool> live_account_exists(const RequestContext& ctx,
                                                   std::string_view user_id) override;

 private:
  Pool& primary_;
};

}  // namespace userservice::postgres
