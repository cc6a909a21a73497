#pragma once
// Route registration, one function per caller group (api.md §3–§8).
namespace userservice::services {
class AccountService;
}

namespace userservice::http {

class Router;

// Auth / Session service: resolutions, ensure, exists (api.md §3).
void register_auth_routes(Router& router, services::AccountService& accounts);

}  // namespace userservice::http
