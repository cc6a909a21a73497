#include "domain/policy.h"

#include <gtest/gtest.h>

using namespace userservice::domain;
using namespace std::chrono_literals;

namespace {

const TimePoint kNow = *parse_rfc3339("2026-11-25T12:00:00Z");

AccountState free_user() {
  AccountState s;
  s.account.user_id = "user-1";
  s.entitlement = {"free", false, kNow - 24h, std::nullopt};
  return s;
}

}  // namespace

TEST(Policy, ActiveMeansNoEndOrEndAfterNow) {
  EXPECT_TRUE(is_active(std::nullopt, kNow));
  EXPECT_TRUE(is_active(kNow + 1ms, kNow));
  EXPECT_FALSE(is_active(kNow, kNow));  // the end instant itself is already past
  EXPECT_FALSE(is_active(kNow - 1ms, kNow));
}

TEST(Policy, LapsedPaidEntitlementReadsAsFreeFromItsEnd) {
  Entitlement paid{"paid_monthly", true, kNow - 30 * 24h, kNow - 1s};
  Entitlement e = effective_entitlement(paid, kNow);
  EXPECT_EQ(e.plan_code, "free");
  EXPECT_FALSE(e.is_paid);
  EXPECT_EQ(e.starts_at, kNow - 1s);
  EXPECT_FALSE(e.ends_at.has_value());
  Entitlement running{"paid_monthly", true, kNow - 24h, kNow + 1s};
  EXPECT_EQ(effective_entitlement(running, kNow).plan_code, "paid_monthly");
  Entitlement lifetime{"paid_lifetime", true, kNow - 24h, std::nullopt};
  EXPECT_EQ(effective_entitlement(lifetime, kNow).plan_code, "paid_lifetime");
}

TEST(Policy, ExpiredSanctionsAndLimitsAreGoneAndTheRestSorted) {
  AccountState s = free_user();
  s.sanctions = {{"private_game_create_block", "r", kNow - 1h, std::nullopt},
                 {"game_join_block", "r", kNow - 1h, kNow - 1s},
                 {"login_block", "r", kNow - 1h, kNow + 1h}};
  s.limits = {{"max_owned_private_games", 4, "r", kNow - 1h, kNow - 1ms},
              {"max_active_game_memberships", 7, "r", kNow - 1h, std::nullopt}};
  AccountState e = effective_state(s, kNow);
  ASSERT_EQ(e.sanctions.size(), 2u);
  EXPECT_EQ(e.sanctions[0].sanction_code, "login_block");
  EXPECT_EQ(e.sanctions[1].sanction_code, "private_game_create_block");
  ASSERT_EQ(e.limits.size(), 1u);
  EXPECT_EQ(e.limits[0].limit_code, "max_active_game_memberships");
}

TEST(Policy, EligibilityOfAFreeUserWithoutSanctions) {
  Eligibility e = eligibility(effective_state(free_user(), kNow));
  EXPECT_EQ(e.user_id, "user-1");
  EXPECT_EQ(e.plan_code, "free");
  EXPECT_FALSE(e.is_paid);
  EXPECT_TRUE(e.capabilities.can_login);
  EXPECT_TRUE(e.capabilities.can_join_games);
  EXPECT_TRUE(e.capabilities.can_create_private_games);
  EXPECT_TRUE(e.capabilities.can_update_profile);
  EXPECT_TRUE(e.active_sanction_codes.empty());
  EXPECT_EQ(e.effective_limits, default_limits(false));
  EXPECT_EQ(e.effective_limits.max_owned_private_games, 1);
  EXPECT_EQ(e.effective_limits.max_pending_public_applications, 3);
  EXPECT_EQ(e.effective_limits.max_active_game_memberships, 3);
}

TEST(Policy, EachSanctionSwitchesOffItsCapability) {
  const std::pair<const char*, bool Capabilities::*> cases[] = {
      {"login_block", &Capabilities::can_login},
      {"game_join_block", &Capabilities::can_join_games},
      {"private_game_create_block", &Capabilities::can_create_private_games},
      {"profile_update_block", &Capabilities::can_update_profile},
  };
  for (auto [code, field] : cases) {
    AccountState s = free_user();
    s.sanctions = {{code, "r", kNow - 1h, std::nullopt}};
    Eligibility e = eligibility(effective_state(s, kNow));
    EXPECT_FALSE(e.capabilities.*field) << code;
    int off = !e.capabilities.can_login + !e.capabilities.can_join_games +
              !e.capabilities.can_create_private_games + !e.capabilities.can_update_profile;
    EXPECT_EQ(off, 1) << code;
    EXPECT_EQ(e.active_sanction_codes, std::vector<std::string>{code});
  }
}

TEST(Policy, ExpiredSanctionNoLongerBlocks) {
  AccountState s = free_user();
  s.sanctions = {{"login_block", "r", kNow - 1h, kNow - 1ms}};
  EXPECT_TRUE(eligibility(effective_state(s, kNow)).capabilities.can_login);
}

TEST(Policy, PaidDefaultsAndOverrides) {
  AccountState s = free_user();
  s.entitlement = {"paid_yearly", true, kNow - 1h, kNow + 24h};
  s.limits = {{"max_owned_private_games", 2, "r", kNow - 1h, std::nullopt}};
  Eligibility e = eligibility(effective_state(s, kNow));
  EXPECT_TRUE(e.is_paid);
  EXPECT_EQ(e.effective_limits.max_owned_private_games, 2);  // override beats the paid default 5
  EXPECT_EQ(e.effective_limits.max_pending_public_applications, 10);
  EXPECT_EQ(e.effective_limits.max_active_game_memberships, 10);
}

TEST(Policy, LapsedPaidFallsBackToFreeDefaults) {
  AccountState s = free_user();
  s.entitlement = {"paid_monthly", true, kNow - 30 * 24h, kNow - 1s};
  Eligibility e = eligibility(effective_state(s, kNow));
  EXPECT_FALSE(e.is_paid);
  EXPECT_EQ(e.plan_code, "free");
  EXPECT_EQ(e.effective_limits, default_limits(false));
}
