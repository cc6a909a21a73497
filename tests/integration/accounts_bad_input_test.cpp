// Bad input on every account route: bodies that are not one JSON object, invalid JSON, unknown
// fields, wrong types, nulls, missing fields, wrong content types, oversize bodies, hostile path
// segments and percent-encoding tricks. Each must be a 4xx with the contract's code, never a 5xx,
// and must write nothing (row counts of accounts, outbox and blocked emails, and a fingerprint
// of every account row, are compared before and after).
#include <set>

#include "integration/account_helpers.h"

using namespace userservice::testing;
using namespace userservice::testing::acct;

namespace {

// Allowed outcomes: status → error code ("" for a success status, whose body is not checked).
using Allowed = std::map<unsigned, std::string>;
const Allowed k400 = {{400, "invalid_request"}};

std::string printable(std::string_view s, std::size_t max = 160) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

struct Route {
  std::string name;
  std::string method;
  std::string path;  // under kApi
  boost::json::object valid_body;
};

class AccountsBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    service_ = new RunningService(start_service());
    victim_ = new Account(create_account(*service_, "victim"));
  }
  static void TearDownTestSuite() {
    delete victim_;
    delete service_;
    victim_ = nullptr;
    service_ = nullptr;
  }
  void TearDown() override { expect_alive(*service_); }
  const RunningService& svc() const { return *service_; }
  static RunningService* service_;
  static Account* victim_;

  // Every account route that takes a body, with a body it would accept.
  std::vector<Route> body_routes() const {
    const std::string& id = victim_->user_id;
    boost::json::object admin_body{{"reason_code", "bad_input_test"}, {"actor", actor()}};
    return {
        {"resolution", "POST", "/user-resolutions/by-email", {{"email", unique_email()}}},
        {"ensure",
         "POST",
         "/users/ensure-by-email",
         {{"email", unique_email()},
          {"registration_context", {{"preferred_language", "de"}, {"time_zone", "UTC"}}}}},
        {"profile", "PATCH", "/users/" + id + "/profile", {{"user_name", unique_user_name("Bad")}}},
        {"settings",
         "PATCH",
         "/users/" + id + "/settings",
         {{"preferred_language", "fr"}, {"time_zone", "Europe/Paris"}}},
        {"declared_country",
         "PUT",
         "/users/" + id + "/declared-country",
         {{"declared_country", "DE"}}},
        {"eligibility_batch", "POST", "/users/eligibility:batch", {{"user_ids", {id}}}},
        {"profiles_batch", "POST", "/users/profiles:batch", {{"user_ids", {id}}}},
        {"delete", "POST", "/admin/users/" + id + "/delete", admin_body},
        {"block_email", "PUT", "/admin/blocked-emails/" + pct(unique_email()), admin_body},
    };
  }

  // Sends one request and checks: no 5xx, an allowed status with its code, and nothing written
  // unless the answer was a success that `allowed` permits.
  void expect_outcome(const std::string& method, const std::string& target, const std::string& body,
                      const Allowed& allowed,
                      std::map<std::string, std::string> headers = {}) const {
    SCOPED_TRACE(method + " " + printable(target) + " body=" + printable(body));
    auto before = write_counts(svc());
    HttpResponse r;
    try {
      r = svc().call(method, target, body, std::move(headers));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "no response: " << e.what();
      return;
    }
    EXPECT_LT(r.status, 500u) << r.body;
    auto it = allowed.find(r.status);
    if (it == allowed.end()) {
      ADD_FAILURE() << "unexpected status " << r.status << ": " << r.body;
    } else if (!it->second.empty()) {
      EXPECT_EQ(error_code_of(r), it->second) << r.body;
      EXPECT_EQ(r.header("content-type"), kJsonType);
    }
    if (r.status >= 300) {
      EXPECT_EQ(write_counts(svc()), before) << "a rejected request wrote";
    }
  }

  void expect_400(const Route& route, const std::string& body) const {
    expect_outcome(route.method, kApi + route.path, body, k400);
  }
};
RunningService* AccountsBadInput::service_ = nullptr;
Account* AccountsBadInput::victim_ = nullptr;

// Wrong-typed stand-ins for a value of the given JSON kind.
std::vector<boost::json::value> wrong_values_for(const boost::json::value& valid) {
  std::vector<boost::json::value> out = {nullptr, true, 0, -1, 1.5, 123456789012345678.0};
  if (!valid.is_string()) {
    out.emplace_back("");
    out.emplace_back("text");
  }
  if (!valid.is_array()) {
    out.emplace_back(boost::json::array{});
    if (valid.is_string()) out.emplace_back(boost::json::array{valid});
  }
  if (!valid.is_object()) {
    out.emplace_back(boost::json::object{});
    out.emplace_back(boost::json::object{{"value", valid}});
  }
  return out;
}

}  // namespace

TEST_F(AccountsBadInput, TheValidBodiesAreAcceptedInTheFirstPlace) {
  // Guards the matrix: if a "valid" body were rejected, every case below would pass vacuously.
  // Uses a throwaway account so the victim stays untouched.
  auto a = create_account(svc(), "guard");
  for (auto route : body_routes()) {
    if (route.name == "delete") continue;  // would end the account; covered by the admin suite
    auto pos = route.path.find(victim_->user_id);
    if (pos != std::string::npos) route.path.replace(pos, victim_->user_id.size(), a.user_id);
    if (route.valid_body.contains("user_ids")) route.valid_body["user_ids"] = {a.user_id};
    auto r = svc().call(route.method, kApi + route.path, json_str(route.valid_body));
    EXPECT_TRUE(r.status == 200u || r.status == 201u)
        << route.name << " " << r.status << " " << r.body;
  }
}

TEST_F(AccountsBadInput, BodiesThatAreNotOneJsonObject) {
  const std::vector<std::string> bodies = {"null", "true",  "42",
                                           "-0",   "1.5e3", R"("string")",
                                           "[]",   "[{}]",  R"([{"email":"a@b.co"}])",
                                           "{}{}", "{} {}", "{}[]",
                                           "{},",  "{}x",   std::string("{}\0", 3),
                                           " ",    "\n",    "\xef\xbb\xbf{}"};
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    for (const auto& b : bodies) expect_400(route, b);
    // A valid object followed by anything.
    expect_400(route, json_str(route.valid_body) + json_str(route.valid_body));
    expect_400(route, json_str(route.valid_body) + " x");
    expect_400(route, json_str(route.valid_body) + ",");
    expect_400(route, json_str(route.valid_body) + std::string(1, '\0'));
    expect_400(route, "[" + json_str(route.valid_body) + "]");
  }
}

TEST_F(AccountsBadInput, EmptyBodyOnARouteThatTakesOneIs400) {
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    expect_outcome(route.method, kApi + route.path, "", k400);
    expect_outcome(route.method, kApi + route.path, "", k400, {{"Content-Type", kJsonType}});
  }
}

TEST_F(AccountsBadInput, InvalidJson) {
  const std::string deep_array = std::string(5000, '[') + std::string(5000, ']');
  std::string deep_object;
  for (int i = 0; i < 3000; ++i) deep_object += R"({"a":)";
  deep_object += "1" + std::string(3000, '}');
  const std::vector<std::string> bodies = {
      "{",
      "}",
      "{\"email\"",
      "{\"email\":}",
      "{'email':'a@b.co'}",
      "{email:\"a@b.co\"}",
      "{\"email\":\"a@b.co\",}",
      "{\"email\":\"a@b.co\"",
      "{\"email\":\"a@b.co}",
      "{\"email\":\"\xff\xfe@b.co\"}",
      "{\"email\":\"a\\x40b.co\"}",
      "{\"email\":\"\\u12\"}",
      "{\"email\":01}",
      "{\"email\":NaN}",
      "{\"email\":Infinity}",
      "{\"email\":1e999999}",
      "{\"a\":1 /* c */}",
      "{\"\xc3\x28\":1}",
      std::string("{\"email\":\"a\0b\"}", 15),
      deep_array,
      deep_object,
      "{\"user_ids\":" + deep_array + "}",
  };
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    for (const auto& b : bodies) expect_400(route, b);
  }
}

TEST_F(AccountsBadInput, UnknownFieldsAtEveryLevel) {
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    for (const auto& key : {"zzz_unknown", "", "Email", "USER_NAME", "user_ids ", "actor_id"}) {
      auto body = route.valid_body;
      if (body.contains(key)) continue;
      body[key] = "x";
      expect_400(route, json_str(body));
      body[key] = nullptr;
      expect_400(route, json_str(body));
    }
    // Unknown fields inside nested objects.
    for (const auto& [k, v] : route.valid_body) {
      if (!v.is_object()) continue;
      auto body = route.valid_body;
      body[k].as_object()["zzz_unknown"] = 1;
      expect_400(route, json_str(body));
    }
  }
  // registration_context's own unknown fields, on an otherwise minimal body.
  expect_outcome(
      "POST", kApi + "/users/ensure-by-email",
      json_str({{"email", unique_email()}, {"registration_context", {{"country", "DE"}}}}), k400);
}

TEST_F(AccountsBadInput, WrongTypesNullsAndMissingFields) {
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    for (const auto& [k, v] : route.valid_body) {
      SCOPED_TRACE(std::string(k));
      // Missing.
      auto missing = route.valid_body;
      missing.erase(k);
      // Settings keeps one field when the other is missing: a valid partial patch. Only the
      // fully empty patch is asserted (below).
      if (route.name != "settings" && !(route.name == "ensure" && k == "registration_context")) {
        expect_400(route, json_str(missing));
      }
      // Wrong types and null.
      for (const auto& wrong : wrong_values_for(v)) {
        if (route.name == "declared_country" && wrong.is_null()) continue;  // null clears: valid
        auto body = route.valid_body;
        body[k] = wrong;
        expect_400(route, json_str(body));
      }
      // Nested fields of nested objects (actor, registration_context).
      if (v.is_object()) {
        for (const auto& [nk, nv] : v.as_object()) {
          SCOPED_TRACE(std::string(nk));
          auto nested_missing = route.valid_body;
          nested_missing[k].as_object().erase(nk);
          if (route.name != "ensure") expect_400(route, json_str(nested_missing));
          for (const auto& wrong : wrong_values_for(nv)) {
            auto body = route.valid_body;
            body[k].as_object()[nk] = wrong;
            expect_400(route, json_str(body));
          }
        }
      }
      // Arrays of strings: wrong element types.
      if (v.is_array()) {
        for (const auto& wrong : wrong_values_for(v.as_array().at(0))) {
          auto body = route.valid_body;
          body[k] = boost::json::array{v.as_array().at(0), wrong};
          expect_400(route, json_str(body));
        }
      }
    }
    // Everything missing.
    expect_400(route, "{}");
  }
}

TEST_F(AccountsBadInput, WrongContentTypeIs415AndOversizeIs413) {
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    const std::string body = json_str(route.valid_body);
    for (const auto& type : {"text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data", "application/xml", "text/json-ish"}) {
      expect_outcome(route.method, kApi + route.path, body, {{415, "unsupported_media_type"}},
                     {{"Content-Type", type}});
    }
    // Over 64 KiB: a giant but otherwise well-formed JSON object.
    auto big = route.valid_body;
    big["padding"] = std::string(70 * 1024, 'p');
    expect_outcome(route.method, kApi + route.path, json_str(big), {{413, "request_too_large"}});
    auto big_value = route.valid_body;
    for (auto& [k, v] : big_value) {
      if (v.is_string()) v = std::string(66 * 1024, 'a');
      if (v.is_array()) v = boost::json::array{std::string(66 * 1024, 'a')};
      if (v.is_object()) v = boost::json::object{{"k", std::string(66 * 1024, 'a')}};
    }
    expect_outcome(route.method, kApi + route.path, json_str(big_value),
                   {{413, "request_too_large"}});
  }
}

TEST_F(AccountsBadInput, LongButUnderTheLimitValuesAre400NotCrashes) {
  for (const auto& route : body_routes()) {
    SCOPED_TRACE(route.name);
    for (std::size_t n : {255u, 4096u, 20000u}) {  // several fields stay under 64 KiB
      auto body = route.valid_body;
      bool changed = false;
      for (auto& [k, v] : body) {
        if (v.is_string()) {
          v = std::string(n, 'a');
          changed = true;
        }
        if (v.is_object()) {
          for (auto& [nk, nv] : v.as_object()) {
            if (nv.is_string()) {
              nv = std::string(n, 'b');
              changed = true;
            }
          }
        }
        if (v.is_array()) {
          v = boost::json::array{std::string(n, 'c')};
          changed = true;
        }
      }
      if (changed) expect_400(route, json_str(body));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Path segments

TEST_F(AccountsBadInput, HostileUserIdSegments) {
  struct IdRoute {
    std::string method, before, after, body;
  };
  const std::string admin_body = json_str({{"reason_code", "x_y"}, {"actor", actor()}});
  const std::vector<IdRoute> routes = {
      {"GET", "/users/", "/exists", ""},
      {"GET", "/users/", "/account", ""},
      {"PATCH", "/users/", "/profile", json_str({{"user_name", unique_user_name("Seg")}})},
      {"PATCH", "/users/", "/settings", R"({"time_zone":"Europe/Berlin"})"},
      {"PUT", "/users/", "/declared-country", R"({"declared_country":"DE"})"},
      {"GET", "/users/", "/eligibility", ""},
      {"POST", "/admin/users/", "/delete", admin_body},
      {"GET", "/admin/users/", "", ""},
  };
  const std::vector<std::string> bad = {
      "%00",
      "a%00b",
      victim_->user_id + "%00",
      "%2F",
      "a%2Fb",
      "..%2F..%2Fetc%2Fpasswd",
      "%2E%2E",
      "%2e",
      "a.b",
      "%5C",
      "a%5Cb",
      std::string(65, 'a'),
      std::string(300, 'a'),
      victim_->user_id + std::string(65 - victim_->user_id.size(), 'x'),
      "%C3%A9",
      "user-%C3%A9t%C3%A9",
      "%E2%80%8Buser",
      "%F0%9F%98%80",
      "%FF",
      "%zz",
      "%",
      "%4",
      "a%20b",
      "%20",
      "a+b",
      "user%3Fx%3D1",
      "a%23b",
      "%252F",
      "a%2500",
      "a%0D%0AX-Injected:%201",
      "%09",
      "a:b",
      "a@b",
      "a,b",
      "~a",
      "'%3B--",
      "a%22b",
  };
  for (const auto& r : routes) {
    for (const auto& seg : bad) {
      expect_outcome(r.method, kApi + r.before + seg + r.after, r.body, k400);
    }
    // Segments the router may reject as a different path: 400, or 404 not_found.
    for (const std::string seg : {"..", ".", ""}) {
      expect_outcome(r.method, kApi + r.before + seg + r.after, r.body,
                     {{400, "invalid_request"}, {404, "not_found"}});
    }
    // 64 characters of the allowed alphabet: well-formed, unknown.
    const std::string max_id = "Zz_-" + std::string(60, '9');
    Allowed unknown = {{404, "subject_not_found"}};
    if (r.after == "/exists") unknown = {{200, ""}};
    expect_outcome(r.method, kApi + r.before + max_id + r.after, r.body, unknown);
  }
  // Raw (unencoded) non-ASCII and control bytes in the request target.
  for (const std::string seg : {"\xc3\xa9", "a\x7f", "\xff"}) {
    expect_outcome("GET", kApi + "/users/" + seg + "/account", "", k400);
  }
}

TEST_F(AccountsBadInput, HostileEmailSegments) {
  const std::string admin_body = json_str({{"reason_code", "x_y"}, {"actor", actor()}});
  struct EmailRoute {
    std::string method, prefix, body;
  };
  const std::vector<EmailRoute> routes = {
      {"PUT", "/admin/blocked-emails/", admin_body},
      {"GET", "/admin/blocked-emails/", ""},
      {"DELETE", "/admin/blocked-emails/", ""},
      {"GET", "/admin/users/by-email/", ""},
  };
  const std::vector<std::string> bad = {
      "%00",
      "%00a%40example.com",
      "a%40example.com%00",
      "a%00b%40example.com",
      "a%40exa%00mple.com",
      "user%2540example.com",
      "user%252540example.com",
      "a%40b%40example.com",
      "%40",
      "%40%40",
      "a%40",
      "%40example.com",
      "a%40example",
      "a%40.example.com",
      "a%40example..com",
      "a%40example.com.",
      "%20",
      "%20%20%09",
      "a%20b%40example.com",
      "a%40exa%20mple.com",
      pct(std::string(65, 'l') + "@example.com"),
      pct("a@" + std::string(250, 'd') + ".com"),
      "%",
      "%zz",
      "a%4",
      "a%0D%0Ab%40example.com",
      "a%0A%40example.com",
  };
  for (const auto& r : routes) {
    SCOPED_TRACE(r.method + " " + r.prefix);
    for (const auto& seg : bad) expect_outcome(r.method, kApi + r.prefix + seg, r.body, k400);
  }
  // Odd but not forbidden by the contract: a slash, dots or non-ASCII in the local part. Whatever
  // the answer, never a 5xx, and a PUT that succeeds is found again by GET.
  for (const std::string seg : {"a%2Fb%40example.com", "..%2F..%40example.com",
                                "%C3%A9t%C3%A9%40example.com", "a%5Cb%40example.com"}) {
    SCOPED_TRACE(seg);
    auto put = svc().call("PUT", kApi + "/admin/blocked-emails/" + seg, admin_body);
    EXPECT_TRUE(put.status == 201u || put.status == 400u) << put.status << " " << put.body;
    auto get = svc().call("GET", kApi + "/admin/blocked-emails/" + seg);
    EXPECT_EQ(get.status, put.status == 201u ? 200u : 400u) << get.body;
    if (put.status == 201u) {
      EXPECT_EQ(svc().call("DELETE", kApi + "/admin/blocked-emails/" + seg).status, 204u);
    }
    auto lookup = svc().call("GET", kApi + "/admin/users/by-email/" + seg);
    EXPECT_TRUE(lookup.status == 404u || lookup.status == 400u)
        << lookup.status << " " << lookup.body;
  }
  // No email segment at all.
  expect_outcome("GET", kApi + "/admin/blocked-emails/", "",
                 {{400, "invalid_request"}, {404, "not_found"}, {405, "method_not_allowed"}});
  expect_outcome("GET", kApi + "/admin/blocked-emails", "",
                 {{404, "not_found"}, {405, "method_not_allowed"}});
}

TEST_F(AccountsBadInput, PercentEncodingIsDecodedExactlyOnce) {
  const std::string admin_body = json_str({{"reason_code", "x_y"}, {"actor", actor()}});
  // "%2540" is a literal "%40" after one decoding: no '@' at all, so invalid...
  expect_outcome("PUT", kApi + "/admin/blocked-emails/once%2540example.com", admin_body, k400);
  // ...and with a real '@' elsewhere it is a local part containing "%40", a different address.
  std::string email = unique_email();
  std::string local = email.substr(0, email.find('@'));
  std::string domain = email.substr(email.find('@'));
  const std::string seg = local + "%2540x" + pct(domain);
  auto r = svc().call("PUT", kApi + "/admin/blocked-emails/" + seg, admin_body);
  if (r.status == 201u) {
    // Decoded twice it would have two '@' and be invalid; decoded once it is this address.
    EXPECT_EQ(str(body_json(r), "email"), local + "%40x" + domain) << r.body;
    EXPECT_EQ(svc().call("GET", kApi + "/admin/blocked-emails/" + seg).status, 200u);
    EXPECT_EQ(
        svc().call("GET", kApi + "/admin/blocked-emails/" + pct(local + "%40x" + domain)).status,
        200u);
  } else {
    expect_error(r, 400, "invalid_request");  // '%' in a local part may be refused; never 5xx
  }
  // Upper- and lower-case hex digits decode alike.
  auto a = create_account(svc(), "hex");
  std::string lower_hex = a.email;
  auto at = lower_hex.find('@');
  lower_hex.replace(at, 1, "%40");
  EXPECT_EQ(svc().call("GET", kApi + "/admin/users/by-email/" + lower_hex).status, 200u);
  EXPECT_EQ(svc().call("GET", kApi + "/admin/users/by-email/" + pct_all(a.email)).status, 200u);
  std::string mixed = pct_all(a.email);
  std::transform(mixed.begin(), mixed.end(), mixed.begin(), ::tolower);
  EXPECT_EQ(svc().call("GET", kApi + "/admin/users/by-email/" + mixed).status, 200u);
}

TEST_F(AccountsBadInput, PercentEncodingTricksInBodyEmailsAreNotDecoded) {
  for (const std::string& email : std::vector<std::string>{
           "user%40example.com", "user%2540example.com", "%75ser@example.com%00",
           "user@example.com\r\nX: y", std::string("user@example.com\0", 17),
           std::string("\0user@example.com", 17), "user@exam\tple.com",
           "user\xe2\x80\x8b@example.com"}) {
    SCOPED_TRACE(printable(email));
    for (const std::string path : {"/user-resolutions/by-email", "/users/ensure-by-email"}) {
      auto before = write_counts(svc());
      auto r = post_json(svc(), path, {{"email", email}});
      EXPECT_LT(r.status, 500u) << r.body;
      if (email.find('@') == std::string::npos || email.find('\0') != std::string::npos ||
          email.find('\n') != std::string::npos || email.find('\t') != std::string::npos) {
        expect_error(r, 400, "invalid_request");
        EXPECT_EQ(write_counts(svc()), before);
      }
    }
  }
}

TEST_F(AccountsBadInput, HostileUserNameSegments) {
  for (const std::string& seg : std::vector<std::string>{
           "%00", "a%00bc", "%2F", "ab%2Fcd", "..%2F..", "%2E%2E", std::string(65, 'n'),
           "%C3%A9abc", "%F0%9F%98%80abc", "%zz", "abc%20", "%20abc", "a+bc", "abc%3F",
           "player-%00", "%25", "'%20OR%201%3D1", "abc%0D%0AX:%201"}) {
    expect_outcome("GET", kApi + "/admin/users/by-user-name/" + seg, "",
                   {{400, "invalid_request"}, {404, "subject_not_found"}});
  }
}

// ---------------------------------------------------------------------------------------------
// Methods and routes

TEST_F(AccountsBadInput, WrongMethodsAre405WithAllow) {
  const std::string id = victim_->user_id;
  const std::string email = pct(victim_->email);
  struct Case {
    std::string method, path, allow;
  };
  const std::vector<Case> cases = {
      {"GET", "/user-resolutions/by-email", "POST"},
      {"PUT", "/user-resolutions/by-email", "POST"},
      {"GET", "/users/ensure-by-email", "POST"},
      {"DELETE", "/users/ensure-by-email", "POST"},
      {"POST", "/users/" + id + "/exists", "GET"},
      {"POST", "/users/" + id + "/account", "GET"},
      {"DELETE", "/users/" + id + "/account", "GET"},
      {"PUT", "/users/" + id + "/profile", "PATCH"},
      {"POST", "/users/" + id + "/settings", "PATCH"},
      {"GET", "/users/" + id + "/settings", "PATCH"},
      {"PATCH", "/users/" + id + "/declared-country", "PUT"},
      {"DELETE", "/users/" + id + "/declared-country", "PUT"},
      {"POST", "/users/" + id + "/eligibility", "GET"},
      {"GET", "/users/eligibility:batch", "POST"},
      {"GET", "/users/profiles:batch", "POST"},
      {"GET", "/admin/users/" + id + "/delete", "POST"},
      {"DELETE", "/admin/users/" + id + "/delete", "POST"},
      {"POST", "/admin/blocked-emails/" + email, "GET"},
      {"PATCH", "/admin/blocked-emails/" + email, "PUT"},
      {"POST", "/admin/users/" + id, "GET"},
      {"DELETE", "/admin/users/" + id, "GET"},
      {"POST", "/admin/users/by-email/" + email, "GET"},
      {"DELETE", "/admin/users/by-user-name/somebody", "GET"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto before = write_counts(svc());
    auto r =
        svc().call(c.method, kApi + c.path, c.method == "GET" || c.method == "DELETE" ? "" : "{}");
    expect_error(r, 405, "method_not_allowed");
    EXPECT_NE(r.header("allow").find(c.allow), std::string::npos) << r.header("allow");
    EXPECT_EQ(write_counts(svc()), before);
  }
  auto r = svc().call("POST", kApi + "/admin/blocked-emails/" + email, "{}");
  for (const auto* m : {"GET", "PUT", "DELETE"}) {
    EXPECT_NE(r.header("allow").find(m), std::string::npos) << r.header("allow");
  }
}

TEST_F(AccountsBadInput, UnknownSubpathsAre404NotFound) {
  const std::string id = victim_->user_id;
  for (const std::string& path : std::vector<std::string>{
           "/users/ensure-by-email/x", "/user-resolutions", "/user-resolutions/by-email/x",
           "/user-resolutions/by-user-name", "/users/" + id + "/account/x", "/users/" + id,
           "/users/" + id + "/profiles", "/users/eligibility:batchx", "/users/eligibility:single",
           "/admin/users/" + id + "/delete/now", "/admin/users/by-email",
           "/admin/blocked-email/x%40y.com", "/ADMIN/users/" + id, "/Users/" + id + "/account"}) {
    SCOPED_TRACE(path);
    auto before = write_counts(svc());
    auto r = svc().call("POST", kApi + path, "{}");
    EXPECT_TRUE(r.status == 404u || r.status == 405u) << r.status << " " << r.body;
    if (r.status == 404u) {
      EXPECT_EQ(error_code_of(r), "not_found") << r.body;
    }
    EXPECT_EQ(write_counts(svc()), before);
  }
}

TEST_F(AccountsBadInput, GetRoutesIgnoreAJsonBody) {
  const std::string id = victim_->user_id;
  for (const std::string& path : std::vector<std::string>{
           "/users/" + id + "/exists", "/users/" + id + "/account", "/users/" + id + "/eligibility",
           "/admin/users/" + id, "/admin/users/by-email/" + pct(victim_->email)}) {
    SCOPED_TRACE(path);
    expect_outcome("GET", kApi + path, R"({"user_id":"someone-else","x":[1,2]})", {{200, ""}});
    // Broken JSON on a GET: the contract does not say; anything but a 5xx.
    expect_outcome("GET", kApi + path, "{{{", {{200, ""}, {400, "invalid_request"}});
    expect_outcome("GET", kApi + path, "hello", {{415, "unsupported_media_type"}},
                   {{"Content-Type", "text/plain"}});
  }
}

TEST_F(AccountsBadInput, NothingWasWrittenToTheVictimAccount) {
  // The victim was the target of every bad patch above; it must still be as created.
  auto acc = account_of(svc(), victim_->user_id);
  EXPECT_TRUE(is_minted_user_name(str(acc, "user_name")));
  EXPECT_EQ(str(acc, "preferred_language"), "en");
  EXPECT_EQ(str(acc, "time_zone"), "UTC");
  EXPECT_TRUE(field(acc, "declared_country").is_null());
  EXPECT_EQ(str(acc, "updated_at"), str(acc, "created_at"));
  EXPECT_EQ(events_for(svc(), victim_->user_id).size(), 1u);
}
