#pragma once
// Route registration, one function per caller group (api.md §3–§8).
namespace userservice::services {
class AccountService;
class AdminCommandService;
class ListingService;
}

namespace userservice::http {

class Router;

// Auth / Session service: resolutions, ensure, exists (api.md §3).
void register_auth_routes(Router& router, services::AccountService& accounts);
// Edge Gateway self-service: account view, profile and settings patches (§4).
void register_gateway_routes(Router& router, services::AccountService& accounts);
// Geo Profile service: declared country (§5).
void register_geo_routes(Router& router, services::AccountService& accounts);
// Game Lobby: eligibility and profile batches (§6).
void register_lobby_routes(Router& router, services::AccountService& accounts);
// Trusted admin callers: soft delete, blocked emails, lookups (§8).
void register_admin_account_routes(Router& router, services::AccountService& accounts);
// Trusted admin callers: entitlement, sanction and limit commands and their history (§8).
void register_admin_command_routes(Router& router, services::AdminCommandService& commands);
// Trusted admin callers: the account listing with filters and keyset pages (§8).
void register_admin_listing_routes(Router& router, services::ListingService& listing);

}  // namespace userservice::http
