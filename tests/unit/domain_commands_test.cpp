// Pure rules of the admin commands (api.md §8) against a fixed clock reading.
#include "domain/commands.h"

#include <gtest/gtest.h>

#include "domain/error.h"

using namespace userservice::domain;
using namespace std::chrono_literals;

namespace {

const TimePoint kNow = *parse_rfc3339("2026-11-25T12:00:00Z");

// The message of the invalid_request `fn` throws; a failure when it does not throw one.
template <typename Fn>
std::string invalid(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request) << e.message();
    return e.message();
  }
  ADD_FAILURE() << "no invalid_request thrown";
  return "";
}

}  // namespace

TEST(CommandRules, StartMayNotLieInTheFuture) {
  EXPECT_NO_THROW(require_not_future(kNow, "starts_at", kNow));
  EXPECT_NO_THROW(require_not_future(kNow - 24h, "starts_at", kNow));
  EXPECT_EQ(invalid([] { require_not_future(kNow + 1us, "starts_at", kNow); }),
            "starts_at may not lie in the future");
}

TEST(CommandRules, EndMustLieStrictlyInTheFuture) {
  EXPECT_NO_THROW(require_future(kNow + 1us, "expires_at", kNow));
  EXPECT_EQ(invalid([] { require_future(kNow, "expires_at", kNow); }),
            "expires_at must lie in the future");
  invalid([] { require_future(kNow - 1s, "ends_at", kNow); });
}

TEST(CommandRules, GrantOfMonthlyOrYearlyNeedsAFutureEnd) {
  for (const char* plan : {"paid_monthly", "paid_yearly"}) {
    SCOPED_TRACE(plan);
    Entitlement e = grant_entitlement(plan, std::nullopt, kNow + 30 * 24h, kNow);
    EXPECT_EQ(e.plan_code, plan);
    EXPECT_TRUE(e.is_paid);
    EXPECT_EQ(e.starts_at, kNow);  // default: now
    EXPECT_EQ(e.ends_at, kNow + 30 * 24h);
    EXPECT_NE(invalid([&] {
                grant_entitlement(plan, std::nullopt, std::nullopt, kNow);
              }).find("ends_at is required"),
              std::string::npos);
    invalid([&] { grant_entitlement(plan, std::nullopt, kNow, kNow); });
    invalid([&] { grant_entitlement(plan, std::nullopt, kNow - 1s, kNow); });
  }
}

TEST(CommandRules, GrantTakesAPastStartButNoFutureOne) {
  Entitlement e = grant_entitlement("paid_yearly", kNow - 48h, kNow + 24h, kNow);
  EXPECT_EQ(e.starts_at, kNow - 48h);
  invalid([] { grant_entitlement("paid_yearly", kNow + 1s, kNow + 24h, kNow); });
  invalid([] { grant_entitlement("paid_lifetime", kNow + 1s, std::nullopt, kNow); });
}

TEST(CommandRules, GrantOfPlansWithoutEndRefusesAnEnd) {
  Entitlement lifetime = grant_entitlement("paid_lifetime", std::nullopt, std::nullopt, kNow);
  EXPECT_TRUE(lifetime.is_paid);
  EXPECT_FALSE(lifetime.ends_at);
  Entitlement free = grant_entitlement("free", kNow - 1h, std::nullopt, kNow);
  EXPECT_FALSE(free.is_paid);
  EXPECT_EQ(free.starts_at, kNow - 1h);
  EXPECT_NE(invalid([] {
              grant_entitlement("paid_lifetime", std::nullopt, kNow + 1h, kNow);
            }).find("not allowed"),
            std::string::npos);
  invalid([] { grant_entitlement("free", std::nullopt, kNow + 1h, kNow); });
}

TEST(CommandRules, GrantOfAnUnknownPlanIsInvalid) {
  invalid([] { grant_entitlement("platinum", std::nullopt, std::nullopt, kNow); });
  invalid([] { grant_entitlement("", std::nullopt, std::nullopt, kNow); });
  invalid([] { grant_entitlement("FREE", std::nullopt, std::nullopt, kNow); });
}

TEST(CommandRules, ExtendOnlyAPaidEntitlementWithAnEndToALaterEnd) {
  const Entitlement monthly{"paid_monthly", true, kNow - 24h, kNow + 24h};
  EXPECT_FALSE(extend_conflict(monthly, kNow + 48h));
  EXPECT_TRUE(extend_conflict(monthly, kNow + 24h));  // equal is not later
  EXPECT_TRUE(extend_conflict(monthly, kNow + 1h));
  const Entitlement lifetime{"paid_lifetime", true, kNow - 24h, std::nullopt};
  EXPECT_NE(extend_conflict(lifetime, kNow + 48h).value_or("").find("no end"), std::string::npos);
  const Entitlement free{"free", false, kNow - 24h, std::nullopt};
  EXPECT_NE(extend_conflict(free, kNow + 48h).value_or("").find("paid"), std::string::npos);
}

TEST(CommandRules, ExtendOfALapsedEntitlementConflictsOnceItReadsAsFree) {
  // The service evaluates conflicts on the effective entitlement: a lapsed monthly is free.
  const Entitlement lapsed{"paid_monthly", true, kNow - 30 * 24h, kNow - 1s};
  // (effective_entitlement is in policy.h; the conflict rule sees the result.)
  const Entitlement effective{"free", false, kNow - 1s, std::nullopt};
  EXPECT_TRUE(extend_conflict(effective, kNow + 24h));
  EXPECT_FALSE(extend_conflict(lapsed, kNow + 24h));  // the stored row alone would pass
}

TEST(CommandRules, RevokeConflictsOnlyWhenAlreadyFree) {
  EXPECT_TRUE(revoke_conflict({"free", false, kNow, std::nullopt}));
  EXPECT_FALSE(revoke_conflict({"paid_lifetime", true, kNow, std::nullopt}));
  EXPECT_FALSE(revoke_conflict({"paid_monthly", true, kNow, kNow + 1h}));
}

TEST(CommandRules, OnlyLoginBlockHasLifecycleEvents) {
  EXPECT_TRUE(has_lifecycle_events("login_block"));
  for (const auto& s : sanctions()) {
    EXPECT_EQ(has_lifecycle_events(s.code), s.code == kLoginBlock) << s.code;
  }
  EXPECT_FALSE(has_lifecycle_events("unknown"));
}

TEST(CommandRules, SweeperActorIsAValidActor) {
  EXPECT_NO_THROW(
      require_valid_actor(Actor{std::string(kExpiryActorType), std::string(kExpiryActorId)}));
  EXPECT_NO_THROW(require_valid_reason_code(kExpiryReasonCode));
}
