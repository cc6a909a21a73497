#include "adapters/http/handlers/handlers.h"
#include "adapters/http/router.h"
#include "common/json_writer.h"
#include "domain/error.h"
#include "services/listing.h"

namespace userservice::http {

namespace {

// "a=1&b=2" → percent-decoded pairs in arrival order. '+' stays a literal '+' (as in paths),
// so an RFC 3339 offset may be sent as "+02:00" or "%2B02:00". Empty pairs ("a=1&&b=2") are
// skipped; a name without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> query_pairs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), key) ||
        (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value))) {
      throw domain::invalid_request("query string is malformed");
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// One listing item: the account as in the account view, the admin lookups' "deleted_at",
// the entitlement summary and the codes of the active sanctions and limit overrides (all
// effective at the query's moment, codes sorted).
void write_item(JsonWriter& w, const domain::AccountState& s) {
  const auto& a = s.account;
  w.begin_object();
  w.key("account");
  w.begin_object();
  w.field("user_id", a.user_id);
  w.field("email", a.email);
  w.field("user_name", a.user_name);
  w.field("preferred_language", a.preferred_language);
  w.field("time_zone", a.time_zone);
  w.field("declared_country", a.declared_country);
  w.field("created_at", a.created_at);
  w.field("updated_at", a.updated_at);
  w.end_object();
  w.field("deleted_at", a.deleted_at);
  w.key("entitlement");
  w.begin_object();
  w.field("plan_code", s.entitlement.plan_code);
  w.field("is_paid", s.entitlement.is_paid);
  w.field("starts_at", s.entitlement.starts_at);
  w.field("ends_at", s.entitlement.ends_at);
  w.end_object();
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

void register_admin_listing_routes(Router& router, services::ListingService& listing) {
  router.add(Method::get, "/api/v1/internal/admin/users",
             [&listing](Request& req) -> boost::asio::awaitable<Response> {
               const auto pairs = query_pairs(req.query);
               const services::ListingRequest request = services::parse_listing_query(pairs);
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
             });
}

}  // namespace userservice::http
