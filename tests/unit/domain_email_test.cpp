#include "domain/email.h"

#include <gtest/gtest.h>

#include <string>

#include "domain/error.h"

using namespace userservice::domain;

namespace {

// The message of the invalid_request that require_valid_email throws, or "" if none.
std::string rejection(std::string_view raw) {
  try {
    require_valid_email(raw);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_request);
    EXPECT_NE(e.message().find("email"), std::string::npos) << e.message();
    return e.message();
  }
  return "";
}

std::string email_of(std::size_t local_len, std::size_t total_len) {
  // local@ + domain of the form "x...x.com" to reach total_len.
  std::string email(local_len, 'l');
  email += '@';
  const std::size_t domain_len = total_len - email.size();
  email += std::string(domain_len - 4, 'd');
  email += ".com";
  return email;
}

}  // namespace

TEST(DomainEmail, NormalizeTrimsAndLowercasesAscii) {
  EXPECT_EQ(normalize_email("A@B.CO"), "a@b.co");
  EXPECT_EQ(normalize_email(" x@y.z "), "x@y.z");
  EXPECT_EQ(normalize_email("\t\r\n\v\fPilot@Example.COM \n"), "pilot@example.com");
  EXPECT_EQ(normalize_email(""), "");
  EXPECT_EQ(normalize_email("   "), "");
  EXPECT_EQ(normalize_email("a b@c.d"), "a b@c.d");  // inner space kept; validation rejects
  EXPECT_EQ(normalize_email("A%40B@C.D"), "a%40b@c.d");
  // Non-ASCII bytes are not touched (no locale-dependent lowering).
  EXPECT_EQ(normalize_email("\xC3\x84@B.C"), "\xC3\x84@b.c");
}

TEST(DomainEmail, AcceptsAndNormalizesValidAddresses) {
  EXPECT_EQ(require_valid_email("a@b.c"), "a@b.c");
  EXPECT_EQ(require_valid_email("A@B.CO"), "a@b.co");
  EXPECT_EQ(require_valid_email(" x@y.z "), "x@y.z");
  EXPECT_EQ(require_valid_email("Pilot.One+tag@Mail.Example.com"),
            "pilot.one+tag@mail.example.com");
  EXPECT_EQ(require_valid_email("a%40b@c.d"), "a%40b@c.d");  // no percent-decoding
  EXPECT_EQ(require_valid_email("o'hara!#$&*=?^_`{|}~-@sub-1.example.org"),
            "o'hara!#$&*=?^_`{|}~-@sub-1.example.org");
  EXPECT_EQ(require_valid_email("user@xn--bcher-kva.example"), "user@xn--bcher-kva.example");
  EXPECT_EQ(require_valid_email("1@2.3"), "1@2.3");
  EXPECT_TRUE(is_valid_email("a@b.c"));
}

TEST(DomainEmail, RejectsWrongNumberOfAts) {
  EXPECT_NE(rejection("a@@b.c").find("exactly one '@'"), std::string::npos);
  EXPECT_NE(rejection("a@b@c.d").find("exactly one '@'"), std::string::npos);
  EXPECT_NE(rejection("ab.c").find("exactly one '@'"), std::string::npos);
  EXPECT_NE(rejection("a%40b.c").find("exactly one '@'"), std::string::npos);
  EXPECT_FALSE(is_valid_email("a@@b.c"));
}

TEST(DomainEmail, RejectsBadDomains) {
  EXPECT_NE(rejection("a@b").find("at least one dot"), std::string::npos);
  EXPECT_NE(rejection("a@").find("at least one dot"), std::string::npos);
  EXPECT_NE(rejection("a@.b.c").find("empty labels"), std::string::npos);
  EXPECT_NE(rejection("a@b..c").find("empty labels"), std::string::npos);
  EXPECT_NE(rejection("a@b.c.").find("empty labels"), std::string::npos);
  EXPECT_NE(rejection("a@.").find("empty labels"), std::string::npos);
  EXPECT_NE(rejection("a@...").find("empty labels"), std::string::npos);
}

TEST(DomainEmail, RejectsEmptyLocalPartAndEmptyInput) {
  EXPECT_NE(rejection("@b.c").find("local part must not be empty"), std::string::npos);
  EXPECT_NE(rejection("").find("must not be empty"), std::string::npos);
  EXPECT_NE(rejection(" \t ").find("must not be empty"), std::string::npos);
}

TEST(DomainEmail, LocalPartLengthBoundary) {
  const std::string ok = email_of(64, 80);
  ASSERT_EQ(ok.find('@'), 64u);
  EXPECT_EQ(require_valid_email(ok), ok);
  const std::string too_long = email_of(65, 80);
  EXPECT_NE(rejection(too_long).find("local part must be at most 64"), std::string::npos);
}

TEST(DomainEmail, TotalLengthBoundary) {
  const std::string ok = email_of(10, 254);
  ASSERT_EQ(ok.size(), 254u);
  EXPECT_EQ(require_valid_email(ok), ok);
  const std::string too_long = email_of(10, 255);
  ASSERT_EQ(too_long.size(), 255u);
  EXPECT_NE(rejection(too_long).find("at most 254"), std::string::npos);
  // The limit applies after trimming: surrounding whitespace does not count.
  EXPECT_EQ(require_valid_email("  " + ok + "\n"), ok);
  // Upper case at the limit still passes (lower-casing keeps the length).
  std::string upper = ok;
  upper[0] = 'L';
  EXPECT_EQ(require_valid_email(upper), ok);
}

TEST(DomainEmail, RejectsInnerWhitespaceAndControls) {
  EXPECT_NE(rejection("a b@c.d").find("spaces"), std::string::npos);
  EXPECT_NE(rejection("a@c .d").find("spaces"), std::string::npos);
  EXPECT_NE(rejection("a\t@c.d").find("control"), std::string::npos);
  EXPECT_NE(rejection("a@c.d\ne@f.g").find("control"), std::string::npos);
  EXPECT_NE(rejection(std::string("a\0b@c.d", 7)).find("control"), std::string::npos);
  EXPECT_NE(rejection("a\x7f@c.d").find("control"), std::string::npos);
  EXPECT_NE(rejection("a\x1b[31m@c.d").find("control"), std::string::npos);
}

TEST(DomainEmail, RejectsNonAscii) {
  EXPECT_NE(rejection("\xC3\xA4@b.c").find("ASCII"), std::string::npos);       // ä
  EXPECT_NE(rejection("a@b\xC3\xBC.de").find("ASCII"), std::string::npos);     // bü.de
  EXPECT_NE(rejection("a@b.c\xE2\x80\x8B").find("ASCII"), std::string::npos);  // zero width space
  EXPECT_NE(rejection("a\xC2\xA0@b.c").find("ASCII"), std::string::npos);      // NBSP
  EXPECT_NE(rejection("a\xff@b.c").find("ASCII"), std::string::npos);          // not UTF-8 at all
  EXPECT_NE(rejection("a\x80@b.c").find("ASCII"), std::string::npos);          // lowest high byte
}

TEST(DomainEmail, QuotedLocalPartsAreNotSupported) {
  EXPECT_FALSE(is_valid_email("\"john doe\"@example.com"));
  EXPECT_FALSE(is_valid_email("\"a@b\"@example.com"));
}
