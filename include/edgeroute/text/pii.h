// Detection and redaction of personal data (PII) in customer messages.
//
// The router redacts every message with PiiDetector::redact() before any byte
// of it leaves for the cloud, and the audit log stores the redacted text.
// docs/privacy.md describes the rules, their limits and the measured
// precision/recall; the summary below is the contract.
//
// Kinds (ASCII only; the input is raw bytes and need not be valid UTF-8):
//  - kCard: 13-19 digits, Luhn-valid, as one run or as groups joined by single
//    spaces or single dashes (one separator kind per number, any grouping).
//    The whole chain of joined digit groups is the number; it must not touch
//    a letter, '+', or a decimal/date continuation on either side. When a
//    chain is not a card, each of its single groups of 13-19 digits is tried.
//  - kIban: known country code + 2 check digits + BBAN of the country's exact
//    length, compact or in space-separated groups of 4, any letter case,
//    valid only if ISO 13616 mod-97 == 1.
//  - kEmail: local@domain.tld: local part of [A-Za-z0-9._%+-] (at most 64,
//    no leading, trailing or doubled dot), at least two domain labels, an
//    alphabetic top-level label of 2+ letters; trailing punctuation excluded.
//  - kPhone: "+CC ..." international numbers (7-15 digits) and national
//    numbers with separators (spaces, dashes, dots, one parenthesised group;
//    7-12 digits, or up to 15 with a leading "00"). Dates, times, amounts,
//    IP addresses, version strings, ZIP+4 codes, numbers after '#' or words
//    such as "order"/"invoice"/"tracking", and IBAN pieces are not phones.
//  - kAccount: any match of a configured ECMAScript pattern (see PiiOptions).
// Overlaps are resolved by precedence card > iban > email > account > phone;
// digit groups inside an IBAN-shaped run (valid or not) are never cards or
// phones.
//
// A PiiDetector is immutable after construction: concurrent calls of its const
// members from many threads are safe. Scanning is linear in the input for the
// built-in kinds (hand-written scanners; no regex) and never reads outside the
// given bytes.
#pragma once

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace edgeroute::text {

enum class PiiKind { kCard, kIban, kEmail, kPhone, kAccount };

// "card", "iban", "email", "phone", "account" (the placeholder is its upper
// case in brackets, e.g. "[CARD]").
std::string_view to_string(PiiKind kind);

struct PiiSpan {
  PiiKind kind;
  std::size_t begin = 0, end = 0;  // byte offsets into the input, [begin, end)

  friend bool operator==(const PiiSpan&, const PiiSpan&) = default;
};

// Longest account match that is guaranteed to be found whole: configured
// patterns run over overlapping windows of the input (bounded time and stack
// on huge inputs), so a match longer than this may be cut at a window end.
inline constexpr std::size_t kMaxAccountMatchBytes = 128;

struct PiiOptions {
  bool cards = true, ibans = true, emails = true, phones = true;
  // Extra account-number patterns (ECMAScript regex); every match is
  // PiiKind::kAccount. Empty matches are ignored. Back-references are refused
  // (patterns run in libstdc++'s polynomial-time mode where available).
  std::vector<std::string> account_patterns;
};

class PiiDetector {
 public:
  // Throws edgeroute::Error naming the pattern (index and text) when an
  // account pattern does not compile.
  explicit PiiDetector(PiiOptions options = {});

  // All PII spans, sorted by begin and non-overlapping.
  std::vector<PiiSpan> find(std::string_view text) const;

  struct Redacted {
    std::string text;
    std::vector<PiiSpan> spans;  // index the ORIGINAL text
  };
  // Each span replaced by "[CARD]", "[IBAN]", "[EMAIL]", "[PHONE]" or
  // "[ACCOUNT]"; every other byte is copied unchanged.
  Redacted redact(std::string_view text) const;

  const PiiOptions& options() const { return options_; }

 private:
  PiiOptions options_;
  std::vector<std::regex> accounts_;
};

// The IBAN length registered for a two-letter country code (upper case), or 0
// when the country does not use IBANs. Exposed for tests and tools.
std::size_t iban_length(std::string_view country);

// True when `digits` (ASCII digits only; anything else -> false) passes the
// Luhn check. Exposed for tests and tools.
bool luhn_valid(std::string_view digits);

// ISO 13616 check: `iban` is compact (no spaces), letters in any case; true
// when its length matches the country and mod-97 == 1.
bool iban_valid(std::string_view iban);

}  // namespace edgeroute::text
