#pragma once
// The handlers, one named function per route, grouped by caller (api.md §3–§8). Each takes
// the service it calls and the request; src/adapters/http/routes.cpp binds them to their
// method and path (and wraps the Idempotency-Key routes in http::idempotent).
#include <boost/asio/awaitable.hpp>

#include "adapters/http/message.h"

namespace userservice::services {
class AccountService;
class AdminCommandService;
class ListingService;
}  // namespace userservice::services

namespace userservice::telemetry {
class Metrics;
}

namespace userservice::http::handlers {

using boost::asio::awaitable;
using services::AccountService;
using services::AdminCommandService;
using services::ListingService;

// Auth / Session service: resolution, ensure, exists (§3; auth_handlers.cpp).
awaitable<Response> resolve_by_email(AccountService& accounts, Request& req);
awaitable<Response> ensure_by_email(AccountService& accounts, Request& req);
awaitable<Response> user_exists(AccountService& accounts, Request& req);

// Edge Gateway self-service: account view, profile and settings patches (§4;
// gateway_handlers.cpp).
awaitable<Response> account_view(AccountService& accounts, Request& req);
awaitable<Response> update_profile(AccountService& accounts, Request& req);
awaitable<Response> update_settings(AccountService& accounts, Request& req);

// Geo Profile service: declared country (§5; gateway_handlers.cpp).
awaitable<Response> set_declared_country(AccountService& accounts, Request& req);

// Game Lobby: eligibility and the batches (§6; lobby_handlers.cpp).
awaitable<Response> eligibility(AccountService& accounts, Request& req);
awaitable<Response> eligibility_batch(AccountService& accounts, Request& req);
awaitable<Response> profiles_batch(AccountService& accounts, Request& req);

// Trusted admin callers: soft delete, blocked emails, lookups (§8;
// admin_account_handlers.cpp).
awaitable<Response> soft_delete(AccountService& accounts, Request& req);
awaitable<Response> block_email(AccountService& accounts, Request& req);
awaitable<Response> blocked_email(AccountService& accounts, Request& req);
awaitable<Response> unblock_email(AccountService& accounts, Request& req);
awaitable<Response> lookup_by_id(AccountService& accounts, Request& req);
awaitable<Response> lookup_by_email(AccountService& accounts, Request& req);
awaitable<Response> lookup_by_user_name(AccountService& accounts, Request& req);

// Trusted admin callers: entitlement, sanction and limit commands and their history (§8;
// admin_command_handlers.cpp).
awaitable<Response> grant_entitlement(AdminCommandService& commands, Request& req);
awaitable<Response> extend_entitlement(AdminCommandService& commands, Request& req);
awaitable<Response> revoke_entitlement(AdminCommandService& commands, Request& req);
awaitable<Response> apply_sanction(AdminCommandService& commands, Request& req);
awaitable<Response> remove_sanction(AdminCommandService& commands, Request& req);
awaitable<Response> set_limit(AdminCommandService& commands, Request& req);
awaitable<Response> remove_limit(AdminCommandService& commands, Request& req);
awaitable<Response> entitlement_history(AdminCommandService& commands, Request& req);
awaitable<Response> sanction_history(AdminCommandService& commands, Request& req);
awaitable<Response> limit_history(AdminCommandService& commands, Request& req);

// Trusted admin callers: the account listing with filters and keyset pages (§8;
// admin_listing_handlers.cpp).
awaitable<Response> list_accounts(ListingService& listing, Request& req);

// The admin listener: Prometheus metrics, GET and HEAD (metrics_handlers.cpp).
awaitable<Response> serve_metrics(telemetry::Metrics& metrics, Request& req);

}  // namespace userservice::http::handlers
