#include "adapters/http/routes.h"

#include "adapters/http/handlers/handlers.h"
#include "adapters/http/idempotency.h"
#include "adapters/http/router.h"

namespace userservice::http {

void add_internal_routes(Router& r, const InternalServices& s) {
  using namespace handlers;  // NOLINT: the table reads better with bare handler names
  services::AccountService& accounts = s.accounts;
  services::AdminCommandService& commands = s.commands;
  services::IdempotencyStore& keys = s.keys;
  // clang-format off
  // ---- Auth / Session (§3) ----
  r.add(Method::post,    "/api/v1/internal/user-resolutions/by-email",
        with(resolve_by_email, accounts));
  r.add(Method::post,    "/api/v1/internal/users/ensure-by-email",
        idempotent(with(ensure_by_email, accounts), keys));
  r.add(Method::get,     "/api/v1/internal/users/{user_id}/exists",
        with(user_exists, accounts));
  // ---- Edge Gateway (§4) ----
  r.add(Method::get,     "/api/v1/internal/users/{user_id}/account",
        with(account_view, accounts));
  r.add(Method::patch,   "/api/v1/internal/users/{user_id}/profile",
        with(update_profile, accounts));
  r.add(Method::patch,   "/api/v1/internal/users/{user_id}/settings",
        with(update_settings, accounts));
  // ---- Geo Profile (§5) ----
  r.add(Method::put,     "/api/v1/internal/users/{user_id}/declared-country",
        with(set_declared_country, accounts));
  // ---- Game Lobby (§6) ----
  r.add(Method::get,     "/api/v1/internal/users/{user_id}/eligibility",
        with(eligibility, accounts));
  r.add(Method::post,    "/api/v1/internal/users/eligibility:batch",
        with(eligibility_batch, accounts));
  r.add(Method::post,    "/api/v1/internal/users/profiles:batch",
        with(profiles_batch, accounts));
  // ---- Trusted admin: soft delete, blocked emails, lookups (§8) ----
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/delete",
        idempotent(with(soft_delete, accounts), keys));
  r.add(Method::put,     "/api/v1/internal/admin/blocked-emails/{email}",
        idempotent(with(block_email, accounts), keys));
  r.add(Method::get,     "/api/v1/internal/admin/blocked-emails/{email}",
        with(blocked_email, accounts));
  r.add(Method::delete_, "/api/v1/internal/admin/blocked-emails/{email}",
        idempotent(with(unblock_email, accounts), keys));
  r.add(Method::get,     "/api/v1/internal/admin/users/{user_id}",
        with(lookup_by_id, accounts));
  r.add(Method::get,     "/api/v1/internal/admin/users/by-email/{email}",
        with(lookup_by_email, accounts));
  r.add(Method::get,     "/api/v1/internal/admin/users/by-user-name/{user_name}",
        with(lookup_by_user_name, accounts));
  // ---- Admin commands: entitlements, sanctions, limits (§8) ----
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/entitlements/grant",
        idempotent(with(grant_entitlement, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/entitlements/extend",
        idempotent(with(extend_entitlement, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/entitlements/revoke",
        idempotent(with(revoke_entitlement, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/sanctions/apply",
        idempotent(with(apply_sanction, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/sanctions/remove",
        idempotent(with(remove_sanction, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/limits/set",
        idempotent(with(set_limit, commands), keys));
  r.add(Method::post,    "/api/v1/internal/admin/users/{user_id}/limits/remove",
        idempotent(with(remove_limit, commands), keys));
  // ---- History (§8) ----
  r.add(Method::get,     "/api/v1/internal/admin/users/{user_id}/entitlements/history",
        with(entitlement_history, commands));
  r.add(Method::get,     "/api/v1/internal/admin/users/{user_id}/sanctions/history",
        with(sanction_history, commands));
  r.add(Method::get,     "/api/v1/internal/admin/users/{user_id}/limits/history",
        with(limit_history, commands));
  // ---- Listing (§8) ----
  r.add(Method::get,     "/api/v1/internal/admin/users",
        with(list_accounts, s.listing));
  // clang-format on
}

}  // namespace userservice::http
