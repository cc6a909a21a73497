#include "domain/catalog.h"

#include <gtest/gtest.h>

#include <string>

#include "domain/error.h"

using namespace userservice::domain;

namespace {

template <typename F>
std::string rejection(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    return e.message();
  }
  return "";
}

}  // namespace

TEST(DomainCatalog, Plans) {
  ASSERT_EQ(plans().size(), 4u);
  const PlanInfo* free = find_plan("free");
  ASSERT_NE(free, nullptr);
  EXPECT_FALSE(free->is_paid);
  EXPECT_FALSE(free->requires_end);
  for (std::string_view code : {"paid_monthly", "paid_yearly"}) {
    const PlanInfo* plan = find_plan(code);
    ASSERT_NE(plan, nullptr) << code;
    EXPECT_TRUE(plan->is_paid);
    EXPECT_TRUE(plan->requires_end);
    EXPECT_EQ(plan->code, code);
  }
  const PlanInfo* lifetime = find_plan("paid_lifetime");
  ASSERT_NE(lifetime, nullptr);
  EXPECT_TRUE(lifetime->is_paid);
  EXPECT_FALSE(lifetime->requires_end);
  EXPECT_EQ(&require_plan("paid_yearly"), find_plan("paid_yearly"));
  for (std::string_view bad : {"", "Free", "paid", "premium", "free "}) {
    EXPECT_EQ(find_plan(bad), nullptr) << bad;
    EXPECT_NE(rejection([&] { require_plan(bad); }).find("plan_code"), std::string::npos);
  }
  EXPECT_EQ(kFreePlan, "free");
}

TEST(DomainCatalog, SanctionsSwitchOffTheirCapability) {
  ASSERT_EQ(sanctions().size(), 4u);
  EXPECT_EQ(find_sanction("login_block")->disables, Capability::can_login);
  EXPECT_EQ(find_sanction("game_join_block")->disables, Capability::can_join_games);
  EXPECT_EQ(find_sanction("private_game_create_block")->disables,
            Capability::can_create_private_games);
  EXPECT_EQ(find_sanction("profile_update_block")->disables, Capability::can_update_profile);
  EXPECT_EQ(find_sanction("ban"), nullptr);
  EXPECT_EQ(find_sanction("LOGIN_BLOCK"), nullptr);
  EXPECT_NE(rejection([] { require_sanction("ban"); }).find("sanction_code"), std::string::npos);
  EXPECT_EQ(require_sanction(kLoginBlock).code, "login_block");
  EXPECT_EQ(require_sanction(kProfileUpdateBlock).code, "profile_update_block");

  Capabilities none;
  EXPECT_TRUE(none.can_login && none.can_join_games && none.can_create_private_games &&
              none.can_update_profile);

  // Each sanction switches off exactly its own capability.
  for (const SanctionInfo& sanction : sanctions()) {
    Capabilities caps;
    caps.apply_sanction(sanction.code);
    for (Capability c : {Capability::can_login, Capability::can_join_games,
                         Capability::can_create_private_games, Capability::can_update_profile}) {
      EXPECT_EQ(caps.allows(c), c != sanction.disables) << sanction.code;
    }
  }
  Capabilities caps;
  caps.apply_sanction("game_join_block");
  caps.apply_sanction("profile_update_block");
  caps.apply_sanction("retired_code");
  EXPECT_TRUE(caps.can_login);
  EXPECT_FALSE(caps.can_join_games);
  EXPECT_TRUE(caps.can_create_private_games);
  EXPECT_FALSE(caps.can_update_profile);
}

TEST(DomainCatalog, LimitDefaults) {
  ASSERT_EQ(limits().size(), 3u);
  EXPECT_EQ(limits()[0].code, "max_owned_private_games");
  EXPECT_EQ(limits()[1].code, "max_pending_public_applications");
  EXPECT_EQ(limits()[2].code, "max_active_game_memberships");

  const EffectiveLimits free = default_limits(false);
  EXPECT_EQ(free.max_owned_private_games, 1);
  EXPECT_EQ(free.max_pending_public_applications, 3);
  EXPECT_EQ(free.max_active_game_memberships, 3);
  const EffectiveLimits paid = default_limits(true);
  EXPECT_EQ(paid.max_owned_private_games, 5);
  EXPECT_EQ(paid.max_pending_public_applications, 10);
  EXPECT_EQ(paid.max_active_game_memberships, 10);

  for (const LimitInfo& limit : limits()) {
    EXPECT_EQ(find_limit(limit.code), &limit);
    EXPECT_EQ(free.get(limit.id), limit.free_default);
    EXPECT_EQ(paid.get(limit.id), limit.paid_default);
  }
  EXPECT_EQ(find_limit("max_games"), nullptr);
  EXPECT_NE(rejection([] { require_limit("max_games"); }).find("limit_code"), std::string::npos);
}

TEST(DomainCatalog, OverridesReplaceDefaults) {
  EffectiveLimits limits = default_limits(false);
  EXPECT_TRUE(limits.apply_override("max_owned_private_games", 2));
  EXPECT_TRUE(limits.apply_override("max_active_game_memberships", 0));
  EXPECT_FALSE(limits.apply_override("unknown_limit", 99));
  EXPECT_EQ(limits.max_owned_private_games, 2);
  EXPECT_EQ(limits.max_pending_public_applications, 3);
  EXPECT_EQ(limits.max_active_game_memberships, 0);
  EXPECT_NE(limits, default_limits(false));
  limits.set(LimitId::max_pending_public_applications, 7);
  EXPECT_EQ(limits.get(LimitId::max_pending_public_applications), 7);
}

TEST(DomainCatalog, LimitValueRange) {
  EXPECT_NO_THROW(require_valid_limit_value(0));
  EXPECT_NO_THROW(require_valid_limit_value(1'000'000));
  EXPECT_NE(rejection([] { require_valid_limit_value(-1); }).find("value"), std::string::npos);
  EXPECT_NE(rejection([] { require_valid_limit_value(1'000'001); }).find("value"),
            std::string::npos);
}

TEST(DomainCatalog, EntitlementSources) {
  for (std::string_view ok : {"admin", "billing", "promo"}) {
    EXPECT_TRUE(is_valid_entitlement_source(ok));
    EXPECT_NO_THROW(require_valid_entitlement_source(ok));
  }
  for (std::string_view bad : {"", "system", "Admin", "promo "}) {
    EXPECT_FALSE(is_valid_entitlement_source(bad)) << bad;
    EXPECT_NE(rejection([&] { require_valid_entitlement_source(bad); }).find("source"),
              std::string::npos);
  }
}

TEST(DomainCatalog, ReasonCodes) {
  for (std::string_view ok :
       {"a", "chargeback", "manual_review", "tos_violation_2", "abc__d", "trailing_"}) {
    EXPECT_TRUE(is_valid_reason_code(ok)) << ok;
    EXPECT_NO_THROW(require_valid_reason_code(ok));
  }
  EXPECT_TRUE(is_valid_reason_code(std::string(64, 'a')));
  for (std::string bad :
       {std::string(), std::string(65, 'a'), std::string("1abc"), std::string("_abc"),
        std::string("Abc"), std::string("abc-def"), std::string("abc def"), std::string("abc.def"),
        std::string("ab\n"), std::string("\xC3\xA4")}) {
    EXPECT_FALSE(is_valid_reason_code(bad)) << bad;
    EXPECT_NE(rejection([&] { require_valid_reason_code(bad); }).find("reason_code"),
              std::string::npos);
  }
}

TEST(DomainCatalog, Actors) {
  for (std::string_view type : {"admin", "system", "billing"}) {
    EXPECT_NO_THROW(require_valid_actor(Actor{std::string(type), "ops@example.com"})) << type;
  }
  for (std::string_view type : {"", "Admin", "user", "promo"}) {
    EXPECT_NE(rejection([&] {
                require_valid_actor(Actor{std::string(type), "x"});
              }).find("actor.type"),
              std::string::npos);
  }

  EXPECT_TRUE(is_valid_actor_id("x"));
  EXPECT_TRUE(is_valid_actor_id(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_actor_id(std::string(129, 'x')));
  // Length counts characters, not bytes: 128 two-byte 'ä' pass, 129 fail.
  std::string umlauts;
  for (int i = 0; i < 128; ++i) umlauts += "\xC3\xA4";
  EXPECT_TRUE(is_valid_actor_id(umlauts));
  EXPECT_FALSE(is_valid_actor_id(umlauts + "\xC3\xA4"));
  EXPECT_TRUE(is_valid_actor_id("Jürgen Müller (billing-bot) \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_actor_id("svc:billing/worker-7"));
  EXPECT_TRUE(
      is_valid_actor_id("a\xC2\xA0"
                        "b"));                   // U+00A0, first after the C1 block
  EXPECT_FALSE(is_valid_actor_id("a\xC2\x9F"));  // U+009F, last C1 control
  EXPECT_FALSE(is_valid_actor_id("a\xC2\x80"));  // U+0080, first C1 control
  EXPECT_TRUE(is_valid_actor_id("~"));           // U+007E, last before DEL
  EXPECT_FALSE(is_valid_actor_id("a\x1f"));      // U+001F, last C0 control

  for (std::string bad :
       {std::string(), std::string("a\nb"), std::string("a\tb"), std::string("a\0b", 3),
        std::string("a\x7f"), std::string("\x1b[31m"), std::string("a\xC2\x85"),  // NEL (C1)
        std::string("\xC3"), std::string("\xC3\x28"), std::string("\xC0\xAF"),    // overlong
        std::string("\xED\xA0\x80"),                                              // surrogate
        std::string("\xF4\x90\x80\x80"),                                          // > U+10FFFF
        std::string("\xFF")}) {
    EXPECT_FALSE(is_valid_actor_id(bad)) << testing::PrintToString(bad);
    EXPECT_NE(rejection([&] {
                require_valid_actor(Actor{"admin", bad});
              }).find("actor.id"),
              std::string::npos);
  }
}
