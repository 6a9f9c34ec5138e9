#include "edgeroute/text/normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <span>

namespace edgeroute::text {

namespace {

struct CodepointRange {
  char32_t first;
  char32_t last;
};

struct CodepointMapping {
  char32_t from;
  std::uint8_t count;
  std::array<char32_t, 3> to;
};

#include "unicode_tables.inc"

bool in_ranges(std::span<const CodepointRange> table, char32_t cp) {
  const auto it =
      std::upper_bound(table.begin(), table.end(), cp, [](char32_t c, const CodepointRange& r) { return c < r.first; });
  return it != table.begin() && cp <= std::prev(it)->last;
}

const CodepointMapping* find_mapping(std::span<const CodepointMapping> table, char32_t cp) {
  const auto it = std::lower_bound(table.begin(), table.end(), cp,
                                   [](const CodepointMapping& m, char32_t c) { return m.from < c; });
  return (it != table.end() && it->from == cp) ? &*it : nullptr;
}

// Classes of the ASCII range, precomputed from the same tables so the common
// case is one load instead of a binary search.
enum AsciiClass : std::uint8_t {
  kRemoved = 1,
  kWhitespace = 2,
  kPunctuation = 4,
};

constexpr bool constexpr_in_ranges(std::span<const CodepointRange> table, char32_t cp) {
  for (const auto& r : table) {
    if (cp >= r.first && cp <= r.last) return true;
  }
  return false;
}

constexpr std::array<std::uint8_t, 128> make_ascii_classes() {
  std::array<std::uint8_t, 128> t{};
  for (char32_t c = 0; c < 128; ++c) {
    std::uint8_t v = 0;
    if (constexpr_in_ranges(kBertRemovedRanges, c)) v |= kRemoved;
    if (constexpr_in_ranges(kBertWhitespaceRanges, c)) v |= kWhitespace;
    if (constexpr_in_ranges(kBertPunctuationRanges, c)) v |= kPunctuation;
    t[c] = v;
  }
  return t;
}

constexpr std::array<std::uint8_t, 128> kAsciiClasses = make_ascii_classes();

void append_lowercase(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back((cp >= U'A' && cp <= U'Z') ? cp + 32 : cp);
    return;
  }
  if (const CodepointMapping* m = find_mapping(kLowercaseOverrides, cp)) {
    out.append(m->to.data(), m->count);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

void append_nfd(char32_t cp, std::u32string& out) {
  if (cp < 0xC0) {  // nothing below U+00C0 decomposes canonically
    out.push_back(cp);
    return;
  }
  if (const CodepointMapping* m = find_mapping(kStripAccentsOverrides, cp)) {
    out.append(m->to.data(), m->count);
    return;
  }
  std::array<utf8proc_int32_t, 8> buf{};
  int last_boundclass = 0;
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf.data(), static_cast<utf8proc_ssize_t>(buf.size()),
                              UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > static_cast<utf8proc_ssize_t>(buf.size())) {
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

// Canonical ordering (the second half of NFD): a stable sort of every run of
// non-starters by combining class.
void canonical_order(std::u32string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (combining_class(s[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && combining_class(s[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    i = j;
  }
}

}  // namespace

bool is_bert_whitespace(char32_t cp) {
  if (cp < 0x80) return (kAsciiClasses[cp] & kWhitespace) != 0;
  return in_ranges(kBertWhitespaceRanges, cp);
}

bool is_bert_punctuation(char32_t cp) {
  if (cp < 0x80) return (kAsciiClasses[cp] & kPunctuation) != 0;
  return in_ranges(kBertPunctuationRanges, cp);
}

bool is_bert_removed(char32_t cp) {
  if (cp < 0x80) return (kAsciiClasses[cp] & kRemoved) != 0;
  return in_ranges(kBertRemovedRanges, cp);
}

bool is_bert_nonspacing_mark(char32_t cp) { return cp >= 0x300 && in_ranges(kBertNonspacingMarkRanges, cp); }

bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

void strip_accents(std::u32string_view in, std::u32string& out) {
  out.clear();
  for (const char32_t cp : in) append_nfd(cp, out);
  canonical_order(out);
  std::erase_if(out, [](char32_t cp) { return is_bert_nonspacing_mark(cp); });
}

void lowercase(std::u32string_view in, std::u32string& out) {
  out.clear();
  for (const char32_t cp : in) append_lowercase(cp, out);
}

void bert_normalize(std::u32string_view in, const BertNormalizerOptions& options, std::u32string& out,
                    std::u32string& scratch) {
  // Steps 1 and 2 are per character and fuse into one pass.
  std::u32string& cleaned = options.strip_accents || options.lowercase ? scratch : out;
  cleaned.clear();
  for (const char32_t cp : in) {
    if (is_bert_removed(cp)) continue;
    if (is_bert_whitespace(cp)) {
      cleaned.push_back(U' ');
    } else if (options.handle_chinese_chars && cp >= 0x3400 && is_cjk_ideograph(cp)) {
      cleaned.push_back(U' ');
      cleaned.push_back(cp);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  if (options.strip_accents && options.lowercase) {
    strip_accents(cleaned, out);
    cleaned.swap(out);
    lowercase(cleaned, out);
  } else if (options.strip_accents) {
    strip_accents(cleaned, out);
  } else if (options.lowercase) {
    lowercase(cleaned, out);
  }
}

}  // namespace edgeroute::text
