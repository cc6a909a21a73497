#pragma once
// JSON encodings of the api.md views, shared by every caller group's handlers.
#include <string>

#include "common/json_writer.h"
#include "domain/account.h"
#include "domain/catalog.h"

namespace userservice::http {

// api.md §4 account view: {"account", "entitlement", "active_sanctions", "active_limits",
// "effective_limits"}; with_deleted_at adds the admin lookups' top-level "deleted_at".
std::string account_view_json(const domain::AccountState& effective, bool with_deleted_at = false);

// The "account" object and the "entitlement" summary of the account view (also the listing's
// items).
void write_account(JsonWriter& w, const domain::Account& account);
void write_entitlement(JsonWriter& w, const domain::Entitlement& entitlement);
void write_effective_limits(JsonWriter& w, const domain::EffectiveLimits& limits);
void write_eligibility(JsonWriter& w, const domain::Eligibility& e);

}  // namespace userservice::http
