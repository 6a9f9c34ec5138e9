// PII detection and redaction: hand-written byte scanners for cards, IBANs,
// emails and phone numbers, std::regex only for configured account patterns,
// and the precedence rules that merge their candidates (see pii.h).
#include "edgeroute/text/pii.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <iterator>
#include <map>
#include <utility>

#include "edgeroute/common/error.h"

namespace edgeroute::text {

namespace {

// ---------------------------------------------------------------------------
// Byte classes (ASCII only; every byte >= 0x80 is "other").

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
// Letters, digits and '_' glue bytes into one "word" for the boundary rules.
bool is_word(char c) { return is_alnum(c) || c == '_'; }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Byte at `i`, or NUL past the end: lets the scanners look ahead without
// bounds checks at every step (a real NUL in the input is "other" as well).
char at(std::string_view t, std::size_t i) { return i < t.size() ? t[i] : '\0'; }
// Byte before `i`, or NUL at the start.
char before(std::string_view t, std::size_t i, std::size_t back = 1) { return i >= back ? t[i - back] : '\0'; }

std::size_t digit_run_end(std::string_view t, std::size_t i) {
  while (i < t.size() && is_digit(t[i])) ++i;
  return i;
}

// Priority for overlap resolution: lower wins.
int rank(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard:
      return 0;
    case PiiKind::kIban:
      return 1;
    case PiiKind::kEmail:
      return 2;
    case PiiKind::kAccount:
      return 3;
    case PiiKind::kPhone:
      return 4;
  }
  return 5;
}

struct Range {
  std::size_t begin = 0, end = 0;
};

// `ranges` sorted by begin and non-overlapping.
bool overlaps_any(const std::vector<Range>& ranges, std::size_t begin, std::size_t end) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), begin,
                             [](std::size_t value, const Range& r) { return value < r.begin; });
  if (it != ranges.begin() && std::prev(it)->end > begin) return true;  // starts before, reaches into [begin, end)
  return it != ranges.end() && it->begin < end;
}

bool contained_in_any(const std::vector<Range>& ranges, std::size_t begin, std::size_t end) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), begin,
                             [](std::size_t value, const Range& r) { return value < r.begin; });
  return it != ranges.begin() && std::prev(it)->end >= end;
}

// ---------------------------------------------------------------------------
// Cards

// A digit group may start a card chain: it does not continue a word, a phone
// ("+"), a decimal, date or time ("1.", "12/", "10:"), or a dash-joined code
// ("ID-4111", "12-4111"). After a space anything may precede it: a missed
// card leaks, so only Luhn and the IBAN-shape rule filter those.
bool card_head_clean(std::string_view t, std::size_t i) {
  const char p = before(t, i);
  if (p == '\0' && i == 0) return true;
  if (is_word(p) || p == '+') return false;
  const char pp = before(t, i, 2);
  if ((p == '.' || p == ',' || p == '/' || p == ':') && is_digit(pp)) return false;
  if (p == '-' && is_word(pp)) return false;
  return true;
}

// A digit group ending at `e` may end a card chain: no letter follows, and it
// is not the integer part of a decimal, date or time ("12/26", "1.5").
bool card_tail_clean(std::string_view t, std::size_t e) {
  const char c = at(t, e);
  if (is_word(c)) return false;
  if ((c == '.' || c == ',' || c == '/' || c == ':') && is_digit(at(t, e + 1))) return false;
  return true;
}

// Luhn over the digits of `groups` (ranges of digits in `t`).
bool luhn_groups(std::string_view t, const std::vector<Range>& groups, std::size_t first, std::size_t last) {
  int sum = 0;
  bool twice = false;
  for (std::size_t g = last + 1; g-- > first;) {
    for (std::size_t i = groups[g].end; i-- > groups[g].begin;) {
      int d = t[i] - '0';
      if (twice) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      twice = !twice;
    }
  }
  return sum % 10 == 0;
}

void scan_cards(std::string_view t, std::vector<PiiSpan>& out) {
  std::vector<Range> groups;
  std::size_t i = 0;
  const std::size_t n = t.size();
  while (i < n) {
    if (!is_digit(t[i])) {
      ++i;
      continue;
    }
    const std::size_t run_end = digit_run_end(t, i);
    if (!card_head_clean(t, i) || !card_tail_clean(t, run_end)) {
      i = run_end;
      continue;
    }
    // Build the chain of digit groups joined by single spaces or dashes.
    groups.clear();
    groups.push_back({i, run_end});
    bool mixed = false;
    char sep = '\0';
    std::size_t pos = run_end;
    while ((at(t, pos) == ' ' || at(t, pos) == '-') && is_digit(at(t, pos + 1))) {
      const std::size_t next_end = digit_run_end(t, pos + 1);
      if (!card_tail_clean(t, next_end)) break;
      if (sep == '\0') sep = t[pos];
      if (t[pos] != sep) mixed = true;
      groups.push_back({pos + 1, next_end});
      pos = next_end;
    }
    std::size_t digits = 0;
    for (const Range& g : groups) digits += g.end - g.begin;
    if (!mixed && digits >= 13 && digits <= 19 && luhn_groups(t, groups, 0, groups.size() - 1)) {
      out.push_back({PiiKind::kCard, groups.front().begin, groups.back().end});
    } else if (groups.size() > 1) {
      // A compact number joined to other numbers ("ref 12 4111111111111111").
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const std::size_t len = groups[g].end - groups[g].begin;
        if (len >= 13 && len <= 19 && luhn_groups(t, groups, g, g)) {
          out.push_back({PiiKind::kCard, groups[g].begin, groups[g].end});
        }
      }
    }
    i = pos;
  }
}

// ---------------------------------------------------------------------------
// IBANs

struct IbanCountry {
  char code[3];
  unsigned char length;
};

// IBAN lengths of the SWIFT IBAN registry, sorted by code.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

std::size_t iban_length_of(char a, char b) {
  const char key[2] = {to_upper(a), to_upper(b)};
  const auto* it = std::lower_bound(
      std::begin(kIbanCountries), std::end(kIbanCountries), key,
      [](const IbanCountry& c, const char* k) { return c.code[0] != k[0] ? c.code[0] < k[0] : c.code[1] < k[1]; });
  if (it == std::end(kIbanCountries) || it->code[0] != key[0] || it->code[1] != key[1]) return 0;
  return it->length;
}

// mod 97 of the rearranged IBAN (BBAN, then country and check digits), letters
// as 10..35. `chars` is compact and alphanumeric.
int iban_mod97(std::string_view chars) {
  int r = 0;
  auto feed = [&r](char c) {
    if (is_digit(c)) {
      r = (r * 10 + (c - '0')) % 97;
    } else {
      r = (r * 100 + (to_upper(c) - 'A' + 10)) % 97;
    }
  };
  for (std::size_t i = 4; i < chars.size(); ++i) feed(chars[i]);
  for (std::size_t i = 0; i < 4 && i < chars.size(); ++i) feed(chars[i]);
  return r;
}

// Finds IBAN-shaped runs (known country, check digits, exact length) in `t`:
// all of them go to `shapes`, the mod-97-valid ones to `out` when `report`.
void scan_ibans(std::string_view t, bool report, std::vector<PiiSpan>& out, std::vector<Range>& shapes) {
  const std::size_t n = t.size();
  std::string chars;
  for (std::size_t i = 0; i + 4 <= n; ++i) {
    if (!is_alpha(t[i]) || is_word(before(t, i)) || !is_alpha(t[i + 1]) || !is_digit(t[i + 2]) || !is_digit(t[i + 3])) {
      continue;
    }
    const std::size_t len = iban_length_of(t[i], t[i + 1]);
    if (len == 0) continue;
    chars.clear();
    std::size_t end = 0;
    // Compact form.
    std::size_t k = i;
    while (k < n && k - i < len && is_alnum(t[k])) ++k;
    if (k - i == len && !is_word(at(t, k))) {
      chars.assign(t.substr(i, len));
      end = k;
    } else {
      // Groups of four separated by single spaces; the last group may be short.
      std::size_t pos = i;
      bool ok = true;
      while (chars.size() < len) {
        std::size_t g = 0;
        while (g < 4 && chars.size() < len && pos < n && is_alnum(t[pos])) {
          chars.push_back(t[pos]);
          ++pos;
          ++g;
        }
        if (chars.size() == len) break;
        if (g != 4 || at(t, pos) != ' ' || !is_alnum(at(t, pos + 1))) {
          ok = false;
          break;
        }
        ++pos;
      }
      if (!ok || is_word(at(t, pos))) continue;
      end = pos;
    }
    shapes.push_back({i, end});
    if (report && iban_mod97(chars) == 1) out.push_back({PiiKind::kIban, i, end});
    i = end - 1;  // the loop's ++i moves past the run
  }
}

// ---------------------------------------------------------------------------
// Emails

bool is_local_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
bool is_domain_char(char c) { return is_alnum(c) || c == '.' || c == '-'; }

constexpr std::size_t kMaxLocal = 64;
constexpr std::size_t kMaxDomain = 253;

void scan_emails(std::string_view t, std::vector<PiiSpan>& out) {
  const std::size_t n = t.size();
  std::size_t next_free = 0;  // emails found so far end before this
  for (std::size_t at_pos = t.find('@'); at_pos != std::string_view::npos; at_pos = t.find('@', at_pos + 1)) {
    if (at_pos < next_free) continue;
    // Local part, backwards.
    std::size_t b = at_pos;
    while (b > next_free && at_pos - b <= kMaxLocal && is_local_char(t[b - 1])) --b;
    if (at_pos - b > kMaxLocal) continue;
    while (b < at_pos && t[b] == '.') ++b;
    if (b == at_pos || t[at_pos - 1] == '.') continue;
    if (t.substr(b, at_pos - b).find("..") != std::string_view::npos) continue;
    // Domain: labels, the last valid alphabetic one of at least two letters
    // (and at least the second label) ends the address.
    const std::size_t d = at_pos + 1;
    std::size_t e = d;
    while (e < n && e - d < kMaxDomain && is_domain_char(t[e])) ++e;
    while (e > d && (t[e - 1] == '.' || t[e - 1] == '-')) --e;  // trailing punctuation
    std::size_t best_end = 0;
    std::size_t labels = 0;
    for (std::size_t p = d; p < e;) {
      std::size_t q = p;
      while (q < e && t[q] != '.') ++q;
      const std::size_t len = q - p;
      if (len == 0 || len > 63 || t[p] == '-' || t[q - 1] == '-') break;
      ++labels;
      bool alpha = len >= 2;
      for (std::size_t k = p; k < q && alpha; ++k) alpha = is_alpha(t[k]);
      if (labels >= 2 && alpha) best_end = q;
      if (q >= e) break;
      p = q + 1;
    }
    if (best_end == 0) continue;
    out.push_back({PiiKind::kEmail, b, best_end});
    next_free = best_end;
  }
}

// ---------------------------------------------------------------------------
// Phones

bool word_in(std::string_view word, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// Words that make a following number an identifier or an amount, not a phone.
bool is_blocking_word(std::string_view w) {
  return word_in(
      w,
      {"order",    "orders",  "ticket",  "invoice",      "inv",      "ref",         "reference", "tracking", "track",
       "case",     "account", "acct",    "acc",          "iban",     "card",        "zip",       "zipcode",  "postal",
       "postcode", "plz",     "id",      "confirmation", "booking",  "transaction", "txn",       "receipt",  "serial",
       "sku",      "item",    "version", "ver",          "build",    "release",     "model",     "policy",   "claim",
       "customer", "member",  "flight",  "reservation",  "shipment", "parcel",      "package",   "awb",      "isbn",
       "vat",      "tax",     "po",      "usd",          "eur",      "gbp",         "chf",       "jpy",      "inr",
       "aud",      "cad",     "sek",     "nok",          "dkk",      "pln"});
}

bool is_currency_word(std::string_view w) {
  return word_in(w, {"usd", "eur",     "gbp",    "chf",   "jpy",  "inr",    "aud", "cad",    "sek",   "nok",  "dkk",
                     "pln", "dollars", "dollar", "euros", "euro", "pounds", "yen", "rupees", "bucks", "cents"});
}

// True when bytes ending at `e` are a currency sign: $, or UTF-8 €, £, ¥, ₹.
bool currency_sign_before(std::string_view t, std::size_t e) {
  auto u = [&](std::size_t back) { return static_cast<unsigned char>(before(t, e, back)); };
  if (u(1) == '$') return true;
  if (u(2) == 0xC2 && (u(1) == 0xA3 || u(1) == 0xA5)) return true;
  if (u(3) == 0xE2 && u(2) == 0x82 && (u(1) == 0xAC || u(1) == 0xB9)) return true;
  return false;
}

bool currency_sign_at(std::string_view t, std::size_t b) {
  auto u = [&](std::size_t k) { return static_cast<unsigned char>(at(t, b + k)); };
  if (u(0) == '$') return true;
  if (u(0) == 0xC2 && (u(1) == 0xA3 || u(1) == 0xA5)) return true;
  if (u(0) == 0xE2 && u(1) == 0x82 && (u(2) == 0xAC || u(2) == 0xB9)) return true;
  return false;
}

// The word (letters, lower-cased, at most 24) before `pos`, skipping up to
// four spaces, colons, dots or '#'. Returns the word's start in `start`.
std::string word_before(std::string_view t, std::size_t pos, std::size_t& start) {
  std::size_t p = pos;
  for (int skipped = 0; p > 0 && skipped < 4; ++skipped) {
    const char c = t[p - 1];
    if (c != ' ' && c != '\t' && c != ':' && c != '.' && c != '#') break;
    --p;
  }
  const std::size_t wend = p;
  while (p > 0 && wend - p < 24 && is_alpha(t[p - 1])) --p;
  start = p;
  if (is_word(before(t, p))) return {};  // longer than 24 or glued to digits
  std::string w(t.substr(p, wend - p));
  for (char& c : w) c = to_lower(c);
  return w;
}

std::string word_after(std::string_view t, std::size_t pos) {
  std::size_t p = pos;
  if (at(t, p) == ' ') ++p;
  std::string w;
  while (p < t.size() && is_alpha(t[p]) && w.size() < 12) w.push_back(to_lower(t[p++]));
  if (is_alpha(at(t, p))) return {};
  return w;
}

struct PhoneShape {
  std::size_t end = 0;  // just past the last byte consumed
  bool plus = false;    // starts with '+'
  bool paren = false;   // has a parenthesised group
  bool ends_in_paren = false;
  std::size_t digits = 0;
  std::size_t groups = 0;
  std::array<std::size_t, 8> lens{};  // lengths of the first 8 groups
  std::array<char, 8> seps{};         // separator after each of the first 8 groups ('\0' none)
  bool all_dots = true;               // every separator is '.'
  bool mixed = false;                 // separators differ
};

// Parses the longest phone-shaped run at `i` ('+', '(' or a digit). The
// result may still be rejected by the checks in phone_ok().
PhoneShape parse_phone(std::string_view t, std::size_t i) {
  PhoneShape s;
  std::size_t pos = i;
  if (t[pos] == '+') {
    s.plus = true;
    ++pos;
  }
  char first_sep = '\0';
  auto add_group = [&s](std::size_t len) {
    if (s.groups < s.lens.size()) s.lens[s.groups] = len;
    ++s.groups;
    s.digits += len;
  };
  auto add_sep = [&](char c) {
    if (s.groups - 1 < s.seps.size()) s.seps[s.groups - 1] = c;
    if (c != '.') s.all_dots = false;
    if (first_sep == '\0') first_sep = c;
    if (c != first_sep) s.mixed = true;
  };
  bool after_paren = false;
  while (true) {
    if (at(t, pos) == '(') {
      const std::size_t e = digit_run_end(t, pos + 1);
      const std::size_t len = e - (pos + 1);
      if (s.paren || len == 0 || len > 4 || at(t, e) != ')') break;
      s.paren = true;
      add_group(len);
      pos = e + 1;
      s.end = pos;
      s.ends_in_paren = true;
      after_paren = true;
    } else if (is_digit(at(t, pos))) {
      const std::size_t e = digit_run_end(t, pos);
      add_group(e - pos);
      pos = e;
      s.end = pos;
      s.ends_in_paren = false;
      after_paren = false;
    } else {
      break;
    }
    // Separator: at most one of " -." then a digit, or an opening parenthesis
    // (with or without a separator before it); directly a digit after ')'.
    std::size_t k = pos;
    char sep = '\0';
    const char c = at(t, k);
    if (c == ' ' || c == '-' || c == '.') {
      sep = c;
      ++k;
    }
    if (at(t, k) == '(' && !s.paren && is_digit(at(t, k + 1))) {
      if (sep != '\0') add_sep(sep);
      pos = k;
      continue;
    }
    if (is_digit(at(t, k)) && (sep != '\0' || after_paren)) {
      if (sep != '\0') add_sep(sep);
      pos = k;
      continue;
    }
    break;
  }
  if (s.end == 0) s.end = pos;
  return s;
}

bool valid_date(std::size_t y, std::size_t m, std::size_t d) {
  return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

std::size_t number_at(std::string_view t, std::size_t b, std::size_t e) {
  std::size_t v = 0;
  for (std::size_t i = b; i < e && i < b + 9; ++i) v = v * 10 + static_cast<std::size_t>(t[i] - '0');
  return v;
}

// Decides whether the phone-shaped run [begin, s.end) is a phone number.
bool phone_ok(std::string_view t, std::size_t begin, const PhoneShape& s) {
  if (s.ends_in_paren || s.groups == 0) return false;
  // Boundaries.
  const char p = before(t, begin);
  if (is_word(p) || p == '#' || p == ')' || p == '@' || p == '&' || p == '%') return false;
  if ((p == '.' || p == ',' || p == '/' || p == ':' || (p == ' ' && t[begin] != '+') || p == '-') &&
      is_digit(before(t, begin, 2))) {
    return false;  // continues a number, date, time or alphanumeric code ("+" starts a new one after a space)
  }
  if ((p == '-' || p == '.' || p == '/' || p == ',') && is_word(before(t, begin, 2))) return false;
  const char c = at(t, s.end);
  if (is_word(c) || c == '%' || c == '@') return false;
  if ((c == '.' || c == ',' || c == '/' || c == ':' || c == '-') && is_digit(at(t, s.end + 1))) return false;
  // Digit counts.
  const bool intl = s.plus || (t[begin] == '0' && at(t, begin + 1) == '0');
  if (s.digits < 7 || s.digits > (intl ? 15u : 12u)) return false;
  if (!s.plus && !s.paren && s.groups < 2) return false;
  // Amounts: currency signs and words around.
  if (currency_sign_before(t, begin) || (p == ' ' && currency_sign_before(t, begin - 1))) return false;
  if (currency_sign_at(t, s.end) || (c == ' ' && currency_sign_at(t, s.end + 1))) return false;
  if (is_currency_word(word_after(t, s.end))) return false;
  // Identifiers: "order 555-0123", "order number: 555 0123".
  std::size_t wstart = 0;
  std::string w1 = word_before(t, begin, wstart);
  if (is_blocking_word(w1)) return false;
  if (word_in(w1, {"no", "nr", "num", "number", "nbr"})) {
    std::size_t unused = 0;
    if (is_blocking_word(word_before(t, wstart, unused))) return false;
  }
  if (s.plus || s.paren) return true;
  // National format look-alikes, judged from the group shape.
  const std::size_t g = std::min<std::size_t>(s.groups, s.lens.size());
  if (g >= 3 && s.seps[0] == s.seps[1]) {
    const std::size_t b0 = begin, e0 = b0 + s.lens[0], b1 = e0 + 1, e1 = b1 + s.lens[1], b2 = e1 + 1,
                      e2 = b2 + s.lens[2];
    if (s.lens[0] == 4 && s.lens[1] <= 2 && s.lens[2] <= 2 &&
        valid_date(number_at(t, b0, e0), number_at(t, b1, e1), number_at(t, b2, e2))) {
      return false;  // 2024-01-15
    }
    if (s.lens[0] <= 2 && s.lens[1] <= 2 && s.lens[2] == 4) {
      const std::size_t a = number_at(t, b0, e0), b = number_at(t, b1, e1), y = number_at(t, b2, e2);
      if (valid_date(y, a, b) || valid_date(y, b, a)) return false;  // 15.01.2024, 01/15/2024
    }
  }
  if (s.groups == 2 && s.lens[0] == 5 && s.lens[1] == 4 && s.seps[0] == '-') return false;  // ZIP+4
  if (s.all_dots) {
    // Dotted numbers are phones only as 3 groups ending in 4 digits (415.555.0123)
    // or as five pairs (01.23.45.67.89); otherwise versions, IPs, thousands.
    if (s.groups == 3 && s.lens[0] >= 2 && s.lens[0] <= 4 && s.lens[1] >= 3 && s.lens[1] <= 4 && s.lens[2] == 4) {
      return true;
    }
    if (s.groups == 5) {
      bool pairs = true;
      for (std::size_t k = 0; k < s.groups; ++k) pairs = pairs && s.lens[k] == 2;
      if (pairs) return true;
    }
    return false;
  }
  return true;
}

void scan_phones(std::string_view t, std::vector<PiiSpan>& out) {
  const std::size_t n = t.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = t[i];
    const bool start = (c == '+' || c == '(') ? is_digit(at(t, i + 1)) && !is_word(before(t, i))
                                              : is_digit(c) && !is_word(before(t, i));
    if (!start) {
      // Skip a whole digit run glued to a word so its tail is not a start.
      i = is_digit(c) ? digit_run_end(t, i) : i + 1;
      continue;
    }
    const PhoneShape s = parse_phone(t, i);
    if (s.groups > 0 && phone_ok(t, i, s)) out.push_back({PiiKind::kPhone, i, s.end});
    i = std::max(i + 1, s.end);
  }
}

// ---------------------------------------------------------------------------
// Account patterns over bounded windows.

constexpr std::size_t kAccountWindow = 512;
static_assert(kAccountWindow > 2 * kMaxAccountMatchBytes);

void scan_accounts(std::string_view t, const std::vector<std::regex>& patterns, std::vector<PiiSpan>& out) {
  if (patterns.empty() || t.empty()) return;
  const std::size_t n = t.size();
  const std::size_t step = kAccountWindow - kMaxAccountMatchBytes;
  for (const std::regex& re : patterns) {
    for (std::size_t ws = 0;; ws += step) {
      const std::size_t we = std::min(n, ws + kAccountWindow);
      const bool last = we == n;
      const std::size_t owned_end = last ? n : ws + step;  // matches starting here belong to this window
      const char* base = t.data();
      std::size_t cur = ws;
      while (cur <= we) {
        auto flags = std::regex_constants::match_default;
        if (cur > 0) flags |= std::regex_constants::match_prev_avail;
        if (!last) flags |= std::regex_constants::match_not_eol;
        std::cmatch m;
        if (!std::regex_search(base + cur, base + we, m, re, flags)) break;
        const std::size_t b = cur + static_cast<std::size_t>(m.position(0));
        const std::size_t e = b + static_cast<std::size_t>(m.length(0));
        if (b >= owned_end) break;
        if (e == b) {
          cur = b + 1;  // empty match: move on
          continue;
        }
        out.push_back({PiiKind::kAccount, b, e});
        cur = e;
      }
      if (last) break;
    }
  }
}

std::string_view placeholder(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard:
      return "[CARD]";
    case PiiKind::kIban:
      return "[IBAN]";
    case PiiKind::kEmail:
      return "[EMAIL]";
    case PiiKind::kPhone:
      return "[PHONE]";
    case PiiKind::kAccount:
      return "[ACCOUNT]";
  }
  return "[PII]";
}

}  // namespace

std::string_view to_string(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard:
      return "card";
    case PiiKind::kIban:
      return "iban";
    case PiiKind::kEmail:
      return "email";
    case PiiKind::kPhone:
      return "phone";
    case PiiKind::kAccount:
      return "account";
  }
  return "unknown";
}

std::size_t iban_length(std::string_view country) {
  if (country.size() != 2 || !is_alpha(country[0]) || !is_alpha(country[1])) return 0;
  return iban_length_of(country[0], country[1]);
}

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!is_digit(c)) return false;
  }
  const std::vector<Range> one{{0, digits.size()}};
  return luhn_groups(digits, one, 0, 0);
}

bool iban_valid(std::string_view iban) {
  if (iban.size() < 5 || !is_alpha(iban[0]) || !is_alpha(iban[1]) || !is_digit(iban[2]) || !is_digit(iban[3])) {
    return false;
  }
  if (iban_length_of(iban[0], iban[1]) != iban.size()) return false;
  for (char c : iban) {
    if (!is_alnum(c)) return false;
  }
  return iban_mod97(iban) == 1;
}

PiiDetector::PiiDetector(PiiOptions options) : options_(std::move(options)) {
  accounts_.reserve(options_.account_patterns.size());
  for (std::size_t i = 0; i < options_.account_patterns.size(); ++i) {
    const std::string& pattern = options_.account_patterns[i];
    if (pattern.empty()) {
      throw Error("PII account pattern #" + std::to_string(i) + " is empty; give a regex that matches account numbers");
    }
    try {
      auto flags = std::regex::ECMAScript | std::regex::optimize;
#ifdef __GLIBCXX__
      flags |= std::regex_constants::__polynomial;  // no backtracking blow-up, bounded recursion
#endif
      accounts_.emplace_back(pattern, flags);
    } catch (const std::regex_error& e) {
      throw Error("PII account pattern #" + std::to_string(i) + " '" + pattern +
                  "' is not a valid ECMAScript regex (back-references are not supported): " + e.what());
    }
  }
}

std::vector<PiiSpan> PiiDetector::find(std::string_view text) const {
  std::vector<PiiSpan> candidates;
  std::vector<Range> iban_shapes;
  scan_ibans(text, options_.ibans, candidates, iban_shapes);
  if (options_.cards) {
    std::vector<PiiSpan> cards;
    scan_cards(text, cards);
    for (const PiiSpan& c : cards) {
      if (!contained_in_any(iban_shapes, c.begin, c.end)) candidates.push_back(c);  // IBAN pieces are not cards
    }
  }
  if (options_.emails) scan_emails(text, candidates);
  scan_accounts(text, accounts_, candidates);
  if (options_.phones) {
    std::vector<PiiSpan> phones;
    scan_phones(text, phones);
    for (const PiiSpan& p : phones) {
      if (!overlaps_any(iban_shapes, p.begin, p.end)) candidates.push_back(p);
    }
  }

  std::stable_sort(candidates.begin(), candidates.end(), [](const PiiSpan& a, const PiiSpan& b) {
    const int ra = rank(a.kind), rb = rank(b.kind);
    return ra != rb ? ra < rb : a.begin < b.begin;
  });
  std::map<std::size_t, std::size_t> taken;  // begin -> end of accepted spans
  for (const PiiSpan& c : candidates) {
    auto it = taken.lower_bound(c.end);  // first accepted span starting at or after c.end
    if (it != taken.begin() && std::prev(it)->second > c.begin) continue;
    taken.emplace(c.begin, c.end);
  }
  std::vector<PiiSpan> result;
  result.reserve(taken.size());
  for (const PiiSpan& c : candidates) {
    auto it = taken.find(c.begin);
    if (it != taken.end() && it->second == c.end) {
      result.push_back(c);
      taken.erase(it);  // a span is reported once even if two scanners found it
    }
  }
  std::sort(result.begin(), result.end(), [](const PiiSpan& a, const PiiSpan& b) { return a.begin < b.begin; });
  return result;
}

PiiDetector::Redacted PiiDetector::redact(std::string_view text) const {
  Redacted r;
  r.spans = find(text);
  r.text.reserve(text.size());
  std::size_t pos = 0;
  for (const PiiSpan& s : r.spans) {
    r.text.append(text.substr(pos, s.begin - pos));
    r.text.append(placeholder(s.kind));
    pos = s.end;
  }
  r.text.append(text.substr(pos));
  return r;
}

}  // namespace edgeroute::text
