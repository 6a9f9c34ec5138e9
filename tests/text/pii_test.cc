// Tests of PII detection and redaction: per-kind rules and edge cases, a seeded
// generated labelled set with per-kind precision/recall, account patterns,
// redaction, concurrency, and a seeded random-bytes fuzz loop.
#include "edgeroute/text/pii.h"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"

namespace edgeroute::text {

// Readable failure messages.
void PrintTo(const PiiSpan& s, std::ostream* os) { *os << to_string(s.kind) << "[" << s.begin << "," << s.end << ")"; }

namespace {

using Spans = std::vector<PiiSpan>;

// The substrings found, as "kind:text", for compact expectations.
std::vector<std::string> found(const PiiDetector& d, std::string_view text) {
  std::vector<std::string> out;
  for (const PiiSpan& s : d.find(text)) {
    out.push_back(std::string(to_string(s.kind)) + ":" + std::string(text.substr(s.begin, s.end - s.begin)));
  }
  return out;
}

using Strings = std::vector<std::string>;

// Checks the structural guarantees of find() and redact() on any input.
void expect_well_formed(const PiiDetector& d, std::string_view text) {
  const PiiDetector::Redacted r = d.redact(text);
  std::string rebuilt;
  std::size_t pos = 0;
  for (const PiiSpan& s : r.spans) {
    ASSERT_LT(s.begin, s.end);
    ASSERT_LE(s.end, text.size());
    ASSERT_GE(s.begin, pos) << "spans overlap or are unsorted";
    rebuilt.append(text.substr(pos, s.begin - pos));
    std::string tag(to_string(s.kind));
    for (char& c : tag) c = static_cast<char>(c - 'a' + 'A');
    rebuilt += "[" + tag + "]";
    pos = s.end;
  }
  rebuilt.append(text.substr(pos));
  ASSERT_EQ(r.text, rebuilt);
  ASSERT_EQ(d.find(text), r.spans);
}

// ---------------------------------------------------------------------------
// Kinds and helpers

TEST(PiiKindTest, Names) {
  EXPECT_EQ(to_string(PiiKind::kCard), "card");
  EXPECT_EQ(to_string(PiiKind::kIban), "iban");
  EXPECT_EQ(to_string(PiiKind::kEmail), "email");
  EXPECT_EQ(to_string(PiiKind::kPhone), "phone");
  EXPECT_EQ(to_string(PiiKind::kAccount), "account");
}

TEST(PiiHelpersTest, Luhn) {
  EXPECT_TRUE(luhn_valid("4111111111111111"));
  EXPECT_TRUE(luhn_valid("378282246310005"));
  EXPECT_TRUE(luhn_valid("6011111111111117"));
  EXPECT_FALSE(luhn_valid("4111111111111112"));
  EXPECT_FALSE(luhn_valid(""));
  EXPECT_FALSE(luhn_valid("4111 1111 1111 1111"));
}

TEST(PiiHelpersTest, IbanLengthsAndCheck) {
  EXPECT_EQ(iban_length("DE"), 22u);
  EXPECT_EQ(iban_length("NO"), 15u);
  EXPECT_EQ(iban_length("LC"), 32u);
  EXPECT_EQ(iban_length("RU"), 33u);
  EXPECT_EQ(iban_length("de"), 22u);
  EXPECT_EQ(iban_length("US"), 0u);
  EXPECT_EQ(iban_length("D"), 0u);
  EXPECT_EQ(iban_length("1E"), 0u);
  EXPECT_TRUE(iban_valid("DE89370400440532013000"));
  EXPECT_TRUE(iban_valid("gb29nwbk60161331926819"));
  EXPECT_FALSE(iban_valid("DE88370400440532013000"));  // check digits
  EXPECT_FALSE(iban_valid("DE8937040044053201300"));   // length
  EXPECT_FALSE(iban_valid("US89370400440532013000"));  // country
  EXPECT_FALSE(iban_valid("DE89 3704 0044 0532 0130 00"));
}

// ---------------------------------------------------------------------------
// Cards

TEST(PiiCardTest, Formats) {
  const PiiDetector d;
  EXPECT_EQ(found(d, "card 4111 1111 1111 1111 please"), Strings{"card:4111 1111 1111 1111"});
  EXPECT_EQ(found(d, "card 4111-1111-1111-1111."), Strings{"card:4111-1111-1111-1111"});
  EXPECT_EQ(found(d, "4111111111111111"), Strings{"card:4111111111111111"});
  EXPECT_EQ(found(d, "amex 3782 822463 10005!"), Strings{"card:3782 822463 10005"});
  EXPECT_EQ(found(d, "(5555555555554444)"), Strings{"card:5555555555554444"});
  EXPECT_EQ(found(d, "visa13 4222222222222,"), Strings{"card:4222222222222"});
  EXPECT_EQ(found(d, "19 digits 4000 0000 0000 0000 006"), Strings{"card:4000 0000 0000 0000 006"});
  // Expiry after the number is not part of it.
  EXPECT_EQ(found(d, "4111 1111 1111 1111 12/26"), Strings{"card:4111 1111 1111 1111"});
  // A compact number joined to another number.
  EXPECT_EQ(found(d, "ref 12 4111111111111111"), Strings{"card:4111111111111111"});
}

TEST(PiiCardTest, NotCards) {
  const PiiDetector d;
  EXPECT_TRUE(d.find("4111 1111 1111 1112").empty());     // Luhn
  EXPECT_TRUE(d.find("4111111111111112").empty());        // Luhn
  EXPECT_TRUE(d.find("411111111111").empty());            // 12 digits, Luhn-valid
  EXPECT_TRUE(d.find("41111111111111111111").empty());    // 20 digits
  EXPECT_TRUE(d.find("X4111111111111111").empty());       // glued to a letter
  EXPECT_TRUE(d.find("4111111111111111abc").empty());     // glued to a letter
  EXPECT_TRUE(d.find("94111111111111111").empty());       // longer digit run (17 digits, invalid)
  EXPECT_TRUE(d.find("0.4111111111111111").empty());      // decimal
  EXPECT_TRUE(d.find("4111 1111-1111 1111").empty());     // mixed separators
  EXPECT_TRUE(d.find("4111  1111  1111  1111").empty());  // double spaces: groups too short alone
  // After '+' it is a phone number, never a card.
  for (const PiiSpan& s : d.find("+4111111111111111")) EXPECT_NE(s.kind, PiiKind::kCard);
}

// ---------------------------------------------------------------------------
// IBANs

TEST(PiiIbanTest, KnownExamples) {
  const PiiDetector d;
  const Strings valid = {"DE89 3704 0044 0532 0130 00",
                         "GB29 NWBK 6016 1331 9268 19",
                         "FR14 2004 1010 0505 0001 3M02 606",
                         "NL91ABNA0417164300",
                         "CH93 0076 2011 6238 5295 7",
                         "NO93 8601 1117 947",
                         "BE68539007547034",
                         "ES91 2100 0418 4502 0005 1332",
                         "IT60 X054 2811 1010 0000 0123 456",
                         "PL61 1090 1014 0000 0712 1981 2874",
                         "SE45 5000 0000 0583 9825 7466",
                         "AT611904300234573201",
                         "de89370400440532013000",
                         "gb29 nwbk 6016 1331 9268 19"};
  for (const std::string& iban : valid) {
    EXPECT_EQ(found(d, "pay to " + iban + ", thanks"), Strings{"iban:" + iban}) << iban;
  }
}

TEST(PiiIbanTest, Invalid) {
  const PiiDetector d;
  EXPECT_TRUE(d.find("DE88 3704 0044 0532 0130 00").empty());  // check digits; no card or phone pieces either
  EXPECT_TRUE(d.find("GB28 NWBK 6016 1331 9268 19").empty());
  EXPECT_TRUE(d.find("NO94 8601 1117 947").empty());
  EXPECT_TRUE(d.find("DE89 3704 0044 0532 0130 0").empty());  // too short
  EXPECT_TRUE(d.find("DE8937040044053201300099").empty());    // too long
  EXPECT_TRUE(d.find("XDE89370400440532013000").empty());     // glued
  EXPECT_TRUE(d.find("DE89 37040044 0532 0130 00").empty());  // irregular grouping
  EXPECT_TRUE(d.find("US89370400440532013000").empty());      // no IBAN country
  EXPECT_TRUE(d.find("DE89370400440532013000").size() == 1);
}

TEST(PiiIbanTest, DisabledIbanStillBlocksPieces) {
  PiiOptions o;
  o.ibans = false;
  const PiiDetector d(o);
  EXPECT_TRUE(d.find("GB29 NWBK 6016 1331 9268 19").empty());
  EXPECT_TRUE(d.find("NO93 8601 1117 947").empty());
}

// ---------------------------------------------------------------------------
// Emails

TEST(PiiEmailTest, Addresses) {
  const PiiDetector d;
  EXPECT_EQ(found(d, "mail john.doe@example.com."), Strings{"email:john.doe@example.com"});
  EXPECT_EQ(found(d, "<Jane+Support@Mail.Example.CO.UK>"), Strings{"email:Jane+Support@Mail.Example.CO.UK"});
  EXPECT_EQ(found(d, "(x_y-9%z@sub-1.my-domain.io), ok"), Strings{"email:x_y-9%z@sub-1.my-domain.io"});
  EXPECT_EQ(found(d, "mailto:a@b.de"), Strings{"email:a@b.de"});
  EXPECT_EQ(found(d, "'.john@example.org'"), Strings{"email:john@example.org"});
  EXPECT_EQ(found(d, "a@b.com,c@d.net"), (Strings{"email:a@b.com", "email:c@d.net"}));
  EXPECT_EQ(found(d, "user@example.com-"), Strings{"email:user@example.com"});
}

TEST(PiiEmailTest, NotEmails) {
  const PiiDetector d;
  EXPECT_TRUE(d.find("a@b").empty());
  EXPECT_TRUE(d.find("user@localhost").empty());
  EXPECT_TRUE(d.find("@username said hi").empty());
  EXPECT_TRUE(d.find("me@192.168.1.1").empty());
  EXPECT_TRUE(d.find("x@y.").empty());
  EXPECT_TRUE(d.find("john.@example.com").empty());
  EXPECT_TRUE(d.find("jo..hn@example.com").empty());
  EXPECT_TRUE(d.find("john@-example.com").empty());
  EXPECT_TRUE(d.find("john@example.c").empty());
  EXPECT_TRUE(d.find("john @ example.com").empty());
  EXPECT_TRUE(d.find(std::string(65, 'a') + "@example.com").empty());
  EXPECT_EQ(found(d, std::string(64, 'a') + "@example.com").size(), 1u);
}

// ---------------------------------------------------------------------------
// Phones

TEST(PiiPhoneTest, Formats) {
  const PiiDetector d;
  const Strings phones = {
      "+1 415 555 0123",   "+1 (415) 555-0123",   "(415) 555-0123",     "415-555-0123",    "415.555.0123",
      "+44 20 7946 0958",  "+44 (0)20 7946 0958", "020 7946 0958",      "+49 30 12345678", "0151-23456789",
      "+33 1 23 45 67 89", "01 23 45 67 89",      "01.23.45.67.89",     "+81 3-1234-5678", "03-1234-5678",
      "(02) 9876 5432",    "+14155550123",        "00 44 20 7946 0958", "555-0123",        "+86 138 0013 8000"};
  for (const std::string& p : phones) {
    EXPECT_EQ(found(d, "call me at " + p + ", thanks"), Strings{"phone:" + p}) << p;
    EXPECT_EQ(found(d, p), Strings{"phone:" + p}) << p;
  }
  EXPECT_EQ(found(d, "phone number: 415-555-0123."), Strings{"phone:415-555-0123"});
}

TEST(PiiPhoneTest, LookAlikes) {
  const PiiDetector d;
  const Strings not_phones = {"2024-01-15",
                              "on 15.01.2024 at",
                              "01/15/2024",
                              "2024-01-15 14:30",
                              "at 14:30:15",
                              "$1,250.00",
                              "1.250,00 EUR",
                              "USD 1,234,567.89",
                              "1 250 000 EUR",
                              "€ 12.500.000",
                              "1 250 000 €",
                              "order #123456789",
                              "#415-555-0123",
                              "order 415-555-0123",
                              "Order number: 415 555 0123",
                              "invoice 555-0123",
                              "tracking 7489 2345 6789",
                              "1Z999AA10123456784",
                              "v10.0.19045.2364",
                              "version 2.14.1-4567",
                              "10.0.19045.2364",
                              "192.168.100.254",
                              "10.60.58.39",
                              "zip 94105",
                              "94105-1234",
                              "12.500.000",
                              "4155550123",
                              "ISBN 978-3-16-148410-0",
                              "3782-822463-10006",
                              "4111 1111 1111 1112",
                              "DE88 3704 0044 0532 0130 00",
                              "NO94 8601 1117 947",
                              "50% of 1234567",
                              "12345678 kg"};
  for (const std::string& s : not_phones) {
    EXPECT_EQ(found(d, s), Strings{}) << s;
  }
}

TEST(PiiPhoneTest, DisabledKinds) {
  PiiOptions o;
  o.phones = false;
  o.emails = false;
  o.cards = false;
  o.ibans = false;
  const PiiDetector d(o);
  EXPECT_TRUE(d.find("+1 415 555 0123 a@b.com 4111111111111111 DE89370400440532013000").empty());
}

// ---------------------------------------------------------------------------
// Precedence and accounts

TEST(PiiPrecedenceTest, CardBeatsPhoneAndAccount) {
  PiiOptions o;
  o.account_patterns = {"[0-9]{4} [0-9]{4}", "[0-9]{3}-[0-9]{3}-[0-9]{4}", "[a-z]+@[a-z]+"};
  const PiiDetector d(o);
  EXPECT_EQ(found(d, "4111 1111 1111 1111"), Strings{"card:4111 1111 1111 1111"});
  EXPECT_EQ(found(d, "call 415-555-0123"), Strings{"account:415-555-0123"});
  EXPECT_EQ(found(d, "mail bob@mail.com"), Strings{"email:bob@mail.com"});
}

TEST(PiiAccountTest, PatternsAndWindows) {
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{8}", "\\bCUST[0-9]{6}\\b"};
  const PiiDetector d(o);
  EXPECT_EQ(found(d, "acct ACC-12345678 and CUST123456."), (Strings{"account:ACC-12345678", "account:CUST123456"}));
  EXPECT_TRUE(d.find("XCUST123456").empty());  // \b honoured
  // Matches at every offset around the internal window boundaries are found once, whole.
  std::vector<std::size_t> offsets;
  for (std::size_t offset = 0; offset < 40; offset += 3) offsets.push_back(offset);
  for (std::size_t offset = 340; offset < 420; offset += 2) offsets.push_back(offset);  // first window edge
  for (std::size_t offset = 740; offset < 800; offset += 2) offsets.push_back(offset);  // second one
  for (std::size_t offset : offsets) {
    std::string text(offset, 'x');
    text += " ACC-87654321 ";
    text += std::string(100, 'y');
    const Spans spans = d.find(text);
    ASSERT_EQ(spans.size(), 1u) << offset;
    EXPECT_EQ(spans[0], (PiiSpan{PiiKind::kAccount, offset + 1, offset + 13})) << offset;
  }
  // \b at a window start sees the byte before it.
  for (std::size_t offset = 370; offset < 400; ++offset) {
    std::string text(offset, 'z');
    text += "CUST123456 ";
    EXPECT_TRUE(d.find(text).empty()) << offset;
  }
}

TEST(PiiAccountTest, EmptyMatchesTerminate) {
  PiiOptions o;
  o.account_patterns = {"x*"};
  const PiiDetector d(o);
  EXPECT_EQ(found(d, "aaxxb"), Strings{"account:xx"});
  EXPECT_TRUE(d.find(std::string(5000, 'a')).empty());
}

std::string error_of(const PiiOptions& o) {
  try {
    PiiDetector d(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PiiAccountTest, InvalidPatternThrows) {
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{8}", "([0-9]+"};
  std::string msg = error_of(o);
  EXPECT_NE(msg.find("#1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'([0-9]+'"), std::string::npos) << msg;
  o.account_patterns = {"[a-"};
  EXPECT_NE(error_of(o).find("'[a-'"), std::string::npos);
  o.account_patterns = {"(a)\\1"};  // back-reference
  EXPECT_NE(error_of(o).find("(a)\\1"), std::string::npos);
  o.account_patterns = {""};
  EXPECT_NE(error_of(o).find("empty"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Redaction

TEST(PiiRedactTest, Placeholders) {
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{8}"};
  const PiiDetector d(o);
  const std::string text =
      "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, mail a.b@ex.com, call +1 415 555 0123, "
      "account ACC-12345678.";
  const PiiDetector::Redacted r = d.redact(text);
  EXPECT_EQ(r.text, "Card [CARD], IBAN [IBAN], mail [EMAIL], call [PHONE], account [ACCOUNT].");
  ASSERT_EQ(r.spans.size(), 5u);
  EXPECT_EQ(text.substr(r.spans[0].begin, r.spans[0].end - r.spans[0].begin), "4111 1111 1111 1111");
  EXPECT_EQ(text.substr(r.spans[1].begin, r.spans[1].end - r.spans[1].begin), "DE89 3704 0044 0532 0130 00");
  // The example in docs/privacy.md.
  const PiiDetector plain;
  const PiiDetector::Redacted doc = plain.redact("card 4111 1111 1111 1111, mail a@b.com");
  EXPECT_EQ(doc.text, "card [CARD], mail [EMAIL]");
  EXPECT_EQ(doc.spans, (Spans{{PiiKind::kCard, 5, 24}, {PiiKind::kEmail, 31, 38}}));
  EXPECT_EQ(d.redact("").text, "");
  EXPECT_EQ(d.redact("nothing here").text, "nothing here");
}

// ---------------------------------------------------------------------------
// Generated labelled set

class Generator {
 public:
  explicit Generator(std::uint32_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
  std::string digits(std::size_t n, bool nonzero_first = false) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
      s.push_back(static_cast<char>('0' + ((i == 0 && nonzero_first) ? 1 + below(9) : below(10))));
    return s;
  }
  std::string letters(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('A' + below(26)));
    return s;
  }

  // Luhn check digit for `body` (the number without it).
  static char luhn_check(const std::string& body) {
    int sum = 0;
    bool twice = true;  // the check digit will be at the right, so the last body digit is doubled
    for (std::size_t i = body.size(); i-- > 0;) {
      int d = body[i] - '0';
      if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
      twice = !twice;
    }
    return static_cast<char>('0' + (10 - sum % 10) % 10);
  }

  // A card number (digits only) of a random brand.
  std::string card_digits() {
    std::string prefix;
    std::size_t len = 16;
    switch (below(6)) {
      case 0:
        prefix = "4";
        break;
      case 1:
        prefix = "4";
        len = 13;
        break;
      case 2:
        prefix = std::to_string(51 + below(5));
        break;
      case 3:
        prefix = std::to_string(2221 + below(500));
        break;
      case 4:
        prefix = below(2) ? "34" : "37";
        len = 15;
        break;
      default:
        prefix = below(2) ? "6011" : "65";
        if (below(4) == 0) len = 19;
        break;
    }
    std::string body = prefix + digits(len - 1 - prefix.size());
    return body + luhn_check(body);
  }

  std::string format_card(const std::string& d) {
    const std::size_t style = below(3);
    if (style == 0) return d;
    const char sep = style == 1 ? ' ' : '-';
    std::vector<std::size_t> groups;
    if (d.size() == 15) {
      groups = {4, 6, 5};
    } else {
      for (std::size_t left = d.size(); left > 0; left -= std::min<std::size_t>(4, left)) {
        groups.push_back(std::min<std::size_t>(4, left));
      }
    }
    std::string out;
    std::size_t pos = 0;
    for (std::size_t g : groups) {
      if (!out.empty()) out.push_back(sep);
      out += d.substr(pos, g);
      pos += g;
    }
    return out;
  }

  // IBAN pieces: country, BBAN length and how many leading BBAN letters.
  struct Country {
    std::string code;
    std::size_t length;
    std::size_t letters;
  };
  const std::vector<Country> countries = {
      {"DE", 22, 0}, {"FR", 27, 0}, {"GB", 22, 4}, {"ES", 24, 0}, {"IT", 27, 1}, {"NL", 18, 4}, {"BE", 16, 0},
      {"CH", 21, 0}, {"AT", 20, 0}, {"PL", 28, 0}, {"SE", 24, 0}, {"NO", 15, 0}, {"DK", 18, 0}, {"FI", 18, 0},
      {"IE", 22, 4}, {"PT", 25, 0}, {"LU", 20, 0}, {"CZ", 24, 0}, {"HU", 28, 0}, {"RO", 24, 4}, {"GR", 27, 0},
      {"HR", 21, 0}, {"SI", 19, 0}, {"SA", 24, 0}, {"TR", 26, 0}, {"BR", 29, 0}, {"MT", 31, 4}, {"LC", 32, 4}};

  static int mod97(const std::string& s) {
    int r = 0;
    for (char c : s) {
      if (c >= '0' && c <= '9') {
        r = (r * 10 + (c - '0')) % 97;
      } else {
        r = (r * 100 + (c - 'A' + 10)) % 97;
      }
    }
    return r;
  }

  // A compact upper-case IBAN; `valid` false gives wrong check digits.
  std::string iban(bool valid) {
    const Country& c = pick(countries);
    const std::string bban = letters(c.letters) + digits(c.length - 4 - c.letters);
    int check = 98 - mod97(bban + c.code + "00");
    if (!valid) {
      int wrong = check;
      while (wrong == check) wrong = 2 + static_cast<int>(below(97));
      check = wrong;
    }
    std::string cd = std::to_string(check);
    if (cd.size() == 1) cd = "0" + cd;
    return c.code + cd + bban;
  }

  std::string format_iban(std::string s) {
    const std::size_t style = below(4);
    if (style >= 2) {
      std::string spaced;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (i > 0 && i % 4 == 0) spaced.push_back(' ');
        spaced.push_back(s[i]);
      }
      s = spaced;
    }
    if (style == 1 || style == 3) {
      for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    return s;
  }

  std::string email() {
    static const std::vector<std::string> first = {"john", "maria", "li", "ahmed", "olga", "pierre", "sam", "k"};
    static const std::vector<std::string> last = {"doe", "garcia", "wang", "khan", "ivanova", "martin", "o-neil"};
    static const std::vector<std::string> domains = {
        "example.com", "mail.example.co.uk",    "corp.acme.io", "gmail.com", "my-isp.de",
        "uni.edu",     "sub1.sub2.example.org", "web.fr"};
    std::string local = pick(first);
    switch (below(5)) {
      case 0:
        local += "." + pick(last);
        break;
      case 1:
        local += "_" + pick(last) + digits(2);
        break;
      case 2:
        local += "+support";
        break;
      case 3:
        local += digits(3);
        break;
      default:
        break;
    }
    std::string out = local + "@" + pick(domains);
    if (below(6) == 0) {
      for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return out;
  }

  std::string phone() {
    const std::string a = std::to_string(2 + below(8)) + digits(2);
    switch (below(16)) {
      case 0:
        return "(" + a + ") 555-" + digits(4);
      case 1:
        return a + "-" + digits(3) + "-" + digits(4);
      case 2:
        return a + "." + digits(3) + "." + digits(4);
      case 3:
        return "+1 " + a + " " + digits(3) + " " + digits(4);
      case 4:
        return "+1 (" + a + ") " + digits(3) + "-" + digits(4);
      case 5:
        return "+44 20 " + digits(4) + " " + digits(4);
      case 6:
        return "020 " + digits(4) + " " + digits(4);
      case 7:
        return "+44 (0)" + digits(2) + " " + digits(4) + " " + digits(4);
      case 8:
        return "+49 " + digits(2, true) + " " + digits(8);
      case 9:
        return "0151-" + digits(8);
      case 10:
        return "+33 " + std::to_string(1 + below(9)) + " " + digits(2) + " " + digits(2) + " " + digits(2) + " " +
               digits(2);
      case 11:
        return "0" + std::to_string(1 + below(9)) + "." + digits(2) + "." + digits(2) + "." + digits(2) + "." +
               digits(2);
      case 12:
        return "+91 " + std::to_string(6 + below(4)) + digits(4) + " " + digits(5);
      case 13:
        return "+81 3-" + digits(4) + "-" + digits(4);
      case 14:
        return "(02) " + digits(4) + " " + digits(4);
      default:
        return "+" + std::to_string(1 + below(9)) + digits(10);
    }
  }

  // Text that looks like PII but is not.
  std::string decoy() {
    switch (below(20)) {
      case 0:
        return "order #" + digits(9, true);
      case 1:
        return "order " + digits(3, true) + "-" + digits(3) + "-" + digits(4);
      case 2:
        return std::to_string(2000 + below(30)) + "-0" + std::to_string(1 + below(9)) + "-" +
               std::to_string(10 + below(18));
      case 3:
        return std::to_string(10 + below(18)) + ".0" + std::to_string(1 + below(9)) + "." +
               std::to_string(1990 + below(40));
      case 4:
        return "0" + std::to_string(1 + below(9)) + "/" + std::to_string(10 + below(18)) + "/" +
               std::to_string(2000 + below(30)) + " " + std::to_string(10 + below(12)) + ":" + digits(2);
      case 5:
        return "$" + std::to_string(1 + below(999)) + "," + digits(3) + "." + digits(2);
      case 6:
        return std::to_string(1 + below(999)) + "." + digits(3) + "," + digits(2) + " EUR";
      case 7:
        return std::to_string(1 + below(9)) + " " + digits(3) + " " + digits(3) + " EUR";
      case 8:
        return "1Z" + letters(1) + digits(2) + letters(3) + digits(10);
      case 9:
        return "tracking " + digits(4, true) + " " + digits(4) + " " + digits(4);
      case 10:
        return "v" + std::to_string(below(20)) + "." + std::to_string(below(20)) + "." + std::to_string(below(999));
      case 11:
        return "version " + std::to_string(below(20)) + ".0." + digits(5, true) + "." + digits(4, true);
      case 12:
        return digits(5, true) + "-" + digits(4);
      case 13:
        return "zip " + digits(5, true);
      case 14: {
        std::string d = card_digits();
        d.back() = static_cast<char>('0' + (d.back() - '0' + 1 + below(9)) % 10);  // Luhn-invalid
        return format_card(d);
      }
      case 15:
        return format_iban(iban(false));
      case 16:
        return std::to_string(below(24)) + ":" + digits(2) + ":" + digits(2);
      case 17:
        return std::to_string(10 + below(240)) + "." + std::to_string(below(256)) + "." + std::to_string(below(256)) +
               "." + std::to_string(below(256));
      case 18:
        return "user@localhost";
      default:
        return "invoice " + digits(3, true) + " " + digits(4);
    }
  }

 private:
  std::mt19937 rng_;
};

struct Labeled {
  std::string text;
  Spans spans;
  std::vector<std::string> secrets;  // card and IBAN texts that redaction must remove
};

std::vector<Labeled> generate_set(std::uint32_t seed, std::size_t count) {
  Generator g(seed);
  const std::vector<std::string> openers = {"Hi, ", "Hello team. ", "", "URGENT: ", "Please help - ", "Thanks! "};
  const std::vector<std::string> intro_card = {"my card is ", "please charge ", "card: ", "use ", "charge the card "};
  const std::vector<std::string> intro_iban = {"my IBAN is ", "refund to ", "IBAN: ", "account ", "send it to "};
  const std::vector<std::string> intro_email = {"email me at ", "contact ", "my address is ", "write to <",
                                                "reply to "};
  const std::vector<std::string> intro_phone = {"call me at ", "my number is ", "phone: ", "reach me on ", "tel. "};
  const std::vector<std::string> intro_decoy = {"about ", "re: ", "see ", "it was ", "for "};
  const std::vector<std::string> joiners = {" and ", "; ", ", also ", ". Then ", " or "};
  const std::vector<std::string> closers = {".", "!", " thanks", "\n", "?", " asap."};
  std::vector<Labeled> out;
  for (std::size_t n = 0; n < count; ++n) {
    Labeled l;
    l.text = g.pick(openers);
    const std::size_t items = 1 + g.below(3);
    for (std::size_t k = 0; k < items; ++k) {
      if (k > 0) l.text += g.pick(joiners);
      const std::size_t what = g.below(5);
      std::string item;
      std::string intro;
      PiiKind kind = PiiKind::kCard;
      bool pii = true;
      switch (what) {
        case 0:
          intro = g.pick(intro_card);
          item = g.format_card(g.card_digits());
          break;
        case 1:
          intro = g.pick(intro_iban);
          item = g.format_iban(g.iban(true));
          kind = PiiKind::kIban;
          break;
        case 2:
          intro = g.pick(intro_email);
          item = g.email();
          kind = PiiKind::kEmail;
          break;
        case 3:
          intro = g.pick(intro_phone);
          item = g.phone();
          kind = PiiKind::kPhone;
          break;
        default:
          intro = g.pick(intro_decoy);
          item = g.decoy();
          pii = false;
          break;
      }
      l.text += intro;
      if (pii) {
        l.spans.push_back({kind, l.text.size(), l.text.size() + item.size()});
        if (kind == PiiKind::kCard || kind == PiiKind::kIban) l.secrets.push_back(item);
      }
      l.text += item;
      if (intro.back() == '<') l.text += ">";
    }
    l.text += g.pick(closers);
    out.push_back(std::move(l));
  }
  return out;
}

struct Counts {
  std::size_t tp = 0, fp = 0, fn = 0;
  double precision() const { return tp + fp == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(tp + fp); }
  double recall() const { return tp + fn == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(tp + fn); }
};

TEST(PiiLabeledSetTest, PrecisionRecall) {
  const std::vector<Labeled> set = generate_set(20240615u, 800);
  const PiiDetector d;
  std::map<PiiKind, Counts> counts;
  std::size_t shown = 0;
  for (const Labeled& l : set) {
    const Spans got = d.find(l.text);
    for (const PiiSpan& s : got) {
      if (std::find(l.spans.begin(), l.spans.end(), s) != l.spans.end()) {
        ++counts[s.kind].tp;
      } else {
        ++counts[s.kind].fp;
        if (shown++ < 20)
          ADD_FAILURE() << "false " << to_string(s.kind) << " '" << l.text.substr(s.begin, s.end - s.begin)
                        << "' in: " << l.text;
      }
    }
    for (const PiiSpan& s : l.spans) {
      if (std::find(got.begin(), got.end(), s) == got.end()) {
        ++counts[s.kind].fn;
        if (shown++ < 20)
          ADD_FAILURE() << "missed " << to_string(s.kind) << " '" << l.text.substr(s.begin, s.end - s.begin)
                        << "' in: " << l.text;
      }
    }
  }
  std::cout << "PII labelled set: " << set.size() << " sentences (seed 20240615)\n"
            << "kind     expected  found  precision  recall\n";
  for (PiiKind k : {PiiKind::kCard, PiiKind::kIban, PiiKind::kEmail, PiiKind::kPhone}) {
    const Counts& c = counts[k];
    std::cout << std::left << std::setw(9) << to_string(k) << std::right << std::setw(8) << c.tp + c.fn << std::setw(7)
              << c.tp + c.fp << std::setw(11) << std::fixed << std::setprecision(4) << c.precision() << std::setw(8)
              << c.recall() << "\n";
    EXPECT_GE(c.tp + c.fn, 100u) << to_string(k) << ": too few examples in the set";
  }
  EXPECT_EQ(counts[PiiKind::kCard].precision(), 1.0);
  EXPECT_EQ(counts[PiiKind::kCard].recall(), 1.0);
  EXPECT_EQ(counts[PiiKind::kIban].precision(), 1.0);
  EXPECT_EQ(counts[PiiKind::kIban].recall(), 1.0);
  EXPECT_EQ(counts[PiiKind::kEmail].precision(), 1.0);
  EXPECT_EQ(counts[PiiKind::kEmail].recall(), 1.0);
  EXPECT_GE(counts[PiiKind::kPhone].precision(), 0.95);
  EXPECT_GE(counts[PiiKind::kPhone].recall(), 0.95);
  EXPECT_EQ(counts[PiiKind::kAccount].tp + counts[PiiKind::kAccount].fp, 0u);
}

std::string digits_only(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9') out.push_back(c);
  }
  return out;
}

TEST(PiiLabeledSetTest, RedactionRemovesCardAndIbanDigits) {
  const std::vector<Labeled> set = generate_set(7u, 400);
  const PiiDetector d;
  std::size_t checked = 0;
  for (const Labeled& l : set) {
    const PiiDetector::Redacted r = d.redact(l.text);
    EXPECT_EQ(r.spans, d.find(l.text));
    const std::string redacted_digits = digits_only(r.text);
    for (const std::string& secret : l.secrets) {
      EXPECT_EQ(r.text.find(secret), std::string::npos) << l.text;
      // The BBAN/card digits do not survive in any formatting.
      const std::string sd = digits_only(secret);
      EXPECT_EQ(redacted_digits.find(sd), std::string::npos) << l.text << " -> " << r.text;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200u);
}

// ---------------------------------------------------------------------------
// Robustness

TEST(PiiRobustnessTest, RandomBytesFuzz) {
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{4,8}", "\\b[A-Z]{2}[0-9]{6}\\b"};
  const PiiDetector with_accounts(o);  // std::regex is slow under sanitizers: every 10th input only
  const PiiDetector plain;
  std::mt19937 rng(1234567u);
  const std::string alphabet =
      std::string("0123456789 -.+()@#$/:,_%aZDEGBNOxX\n\t") + '\0' + "\xff\xc2\xa3\xe2\x82\xac";
  const std::vector<Labeled> seeds = generate_set(99u, 50);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 200)(rng);
    switch (iter % 3) {
      case 0:  // any bytes
        for (std::size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(rng() & 0xff));
        break;
      case 1:  // bytes the scanners care about
        for (std::size_t i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
        break;
      default: {  // a labelled sentence, mutated
        s = seeds[rng() % seeds.size()].text;
        for (int m = 0; m < 4 && !s.empty(); ++m) {
          const std::size_t pos = rng() % s.size();
          if (rng() % 2) {
            s[pos] = alphabet[rng() % alphabet.size()];
          } else {
            s.insert(pos, 1, static_cast<char>(rng() & 0xff));
          }
        }
        break;
      }
    }
    const PiiDetector& d = iter % 10 == 0 ? with_accounts : plain;
    expect_well_formed(d, s);
    // A cut inside the input is safe too (the scanners look ahead and behind).
    expect_well_formed(d, std::string_view(s).substr(0, s.size() / 2));
    if (::testing::Test::HasFatalFailure()) {
      FAIL() << "iteration " << iter;
    }
  }
}

TEST(PiiRobustnessTest, HugeAndDegenerateInputs) {
  const PiiDetector d;
  const std::string unit = "4111 1111 1111 1111 +1 415 555 0123 a@b.cd DE89370400440532013000 ";
  std::string big;
  while (big.size() < (512u << 10)) big += unit;
  const std::size_t copies = big.size() / unit.size();
  const Spans spans = d.find(big);
  ASSERT_EQ(spans.size(), 4 * copies);
  EXPECT_EQ(spans[0].kind, PiiKind::kCard);
  EXPECT_EQ(spans[1].kind, PiiKind::kPhone);
  EXPECT_EQ(spans[2].kind, PiiKind::kEmail);
  EXPECT_EQ(spans[3].kind, PiiKind::kIban);
  for (const char* fill : {"1", "@", "a", ".", "1 ", "1-", "(1", "+1", "a@", "DE89 ", "\0"}) {
    std::string s;
    const std::string f(fill, std::max<std::size_t>(1, std::char_traits<char>::length(fill)));
    while (s.size() < (256u << 10)) s += f;
    expect_well_formed(d, s);
  }
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{8}"};
  const PiiDetector acc(o);
  std::string many;
  while (many.size() < (64u << 10)) many += "ACC-12345678 ";
  EXPECT_EQ(acc.find(many).size(), (many.size() + 12) / 13);
}

TEST(PiiRobustnessTest, ConcurrentConstUse) {
  PiiOptions o;
  o.account_patterns = {"ACC-[0-9]{8}"};
  const PiiDetector d(o);
  const std::vector<Labeled> set = generate_set(5u, 200);
  std::vector<std::string> texts;
  std::vector<Spans> expected;
  for (const Labeled& l : set) {
    texts.push_back(l.text + " ACC-00000000");
    expected.push_back(d.find(texts.back()));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < set.size(); ++i) {
          if (d.find(texts[i]) != expected[i]) ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace edgeroute::text
