#include "domain/user_id.h"

#include <gtest/gtest.h>

#include "domain/error.h"

using namespace userservice::domain;

TEST(UserId, AcceptsWellFormedIds) {
  EXPECT_TRUE(is_well_formed_user_id("user-01jd2x3y4z5a6b7c8d9e0f1g2h"));
  EXPECT_TRUE(is_well_formed_user_id("a"));
  EXPECT_TRUE(is_well_formed_user_id(std::string(64, 'x')));
  EXPECT_TRUE(is_well_formed_user_id("A_b-9"));
}

TEST(UserId, RejectsWhatCannotBeAnId) {
  for (std::string bad :
       {std::string(), std::string(65, 'x'), std::string("user 1"), std::string("../etc"),
        std::string("user%2F1"), std::string("ü"), std::string("a\0b", 3), std::string("user.1")}) {
    EXPECT_FALSE(is_well_formed_user_id(bad)) << bad;
  }
  try {
    require_well_formed_user_id("bad id");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
  }
}
