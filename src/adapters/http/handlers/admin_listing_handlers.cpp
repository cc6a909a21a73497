#include "adapters/http/handlers/common.h"
#include "adapters/http/handlers/handlers.h"
#include "adapters/http/handlers/views.h"
#include "adapters/http/listing_query.h"
#include "common/json_writer.h"
#include "domain/error.h"
#include "services/listing_service.h"

namespace userservice::http {

namespace {

// One listing item: the account as in the account view, the admin lookups' "deleted_at",
// the entitlement summary and the codes of the active sanctions and limit overrides (all
// effective at the query's moment, codes sorted).
void write_item(JsonWriter& w, const domain::AccountState& s) {
  w.begin_object();
  w.key("account");
  write_account(w, s.account);
  w.field("deleted_at", s.account.deleted_at);
  w.key("entitlement");
  write_entitlement(w, s.entitlement);
  w.key("active_sanction_codes");
  w.begin_array();
  for (const auto& x : s.sanctions) w.string(x.sanction_code);
  w.end_array();
  w.key("active_limit_codes");
  w.begin_array();
  for (const auto& x : s.limits) w.string(x.limit_code);
  w.end_array();
  w.end_object();
}

}  // namespace

namespace handlers {

awaitable<Response> list_accounts(ListingService& listing, Request& req) {
  const auto pairs = query_pairs(req.query);
  const services::ListingRequest request = parse_listing_query(pairs);
  services::ListingPage page = co_await listing.list(req.ctx, request);
  JsonWriter w;
  w.str().reserve(256 + page.items.size() * 512);
  w.begin_object();
  w.key("items");
  w.begin_array();
  for (const auto& s : page.items) write_item(w, s);
  w.end_array();
  w.field("next_page_token", page.next_page_token);
  w.end_object();
  co_return json_response(200, w.take());
}

}  // namespace handlers

}  // namespace userservice::http
