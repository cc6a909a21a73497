#pragma once
// Route registration, one function per caller group (api.md §3–§8).
namespace userservice::services {
class AccountService;
class AdminCommandService;
class IdempotencyStore;
class ListingService;
}

namespace userservice::http {

class Router;

// Auth / Session service: resolutions, ensure, exists (api.md §3).
// ensure-by-email takes an Idempotency-Key (stored through `keys`).
void register_auth_routes(Router& router, services::AccountService& accounts,
                          services::IdempotencyStore& keys);
// Edge Gateway self-service: account view, profile and settings patches (§4).
void register_gateway_routes(Router& router, services::AccountService& accounts);
// Geo Profile service: declared country (§5).
void register_geo_routes(Router& router, services::AccountService& accounts);
// Game Lobby: eligibility and profile batches (§6).
void register_lobby_routes(Router& router, services::AccountService& accounts);
// Trusted admin callers: soft delete, blocked emails, lookups (§8).
// Soft delete and blocked-email PUT/DELETE take an Idempotency-Key.
void register_admin_account_routes(Router& router, services::AccountService& accounts,
                                   services::IdempotencyStore& keys);
// Trusted admin callers: entitlement, sanction and limit commands and their history (§8).
// Every command takes an Idempotency-Key.
void register_admin_command_routes(Router& router, services::AdminCommandService& commands,
                                   services::IdempotencyStore& keys);
// Trusted admin callers: the account listing with filters and keyset pages (§8).
void register_admin_listing_routes(Router& router, services::ListingService& listing);

}  // namespace userservice::http
