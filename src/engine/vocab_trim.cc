#include "edgeroute/engine/vocab_trim.h"

#include <algorithm>
#include <array>
#include <utility>

#include "edgeroute/common/error.h"
#include "edgeroute/text/utf8.h"

namespace edgeroute::engine {

namespace {

// Unicode blocks of non-Latin scripts (inclusive ranges). Latin, IPA,
// spacing modifiers, combining marks, punctuation, symbols, digits, emoji and
// other pictographs are not listed: Latin-script text uses them.
constexpr std::array<std::pair<char32_t, char32_t>, 17> kNonLatin{{
    {0x0370, 0x03FF},    // Greek and Coptic
    {0x0400, 0x052F},    // Cyrillic and Cyrillic Supplement
    {0x0530, 0x08FF},    // Armenian, Hebrew, Arabic, Syriac, Thaana, NKo, ...
    {0x0900, 0x0DFF},    // Devanagari .. Sinhala
    {0x0E00, 0x0FFF},    // Thai, Lao, Tibetan
    {0x1000, 0x1CFF},    // Myanmar, Georgian, Hangul Jamo, Ethiopic, Cherokee, Khmer, Mongolian, ...
    {0x1F00, 0x1FFF},    // Greek Extended
    {0x2C00, 0x2C5F},    // Glagolitic
    {0x2D00, 0x2DFF},    // Georgian Supplement, Tifinagh, Ethiopic Extended, Cyrillic Extended-A
    {0x2E80, 0x2FDF},    // CJK and Kangxi radicals
    {0x3040, 0x31FF},    // Hiragana, Katakana, Bopomofo, Hangul compatibility jamo, ...
    {0x3400, 0x4DBF},    // CJK Extension A
    {0x4E00, 0xA6FF},    // CJK Unified Ideographs, Yi, Lisu, Vai, Cyrillic Extended-B, Bamum
    {0xA800, 0xABFF},    // Syloti Nagri .. Meetei Mayek
    {0xAC00, 0xD7FF},    // Hangul syllables and Jamo Extended-B
    {0xF900, 0xFAFF},    // CJK compatibility ideographs
    {0xFB1D, 0xFFEF},    // Hebrew/Arabic presentation forms, CJK compatibility forms, half/full width
}};

}  // namespace

VocabTrim parse_vocab_trim(std::string_view name) {
  if (name == "none") return VocabTrim::kNone;
  if (name == "unused") return VocabTrim::kUnused;
  if (name == "latin") return VocabTrim::kLatin;
  throw Error("vocabulary trim '" + std::string(name) + "' is not one of none, unused, latin");
}

const char* vocab_trim_name(VocabTrim trim) {
  switch (trim) {
    case VocabTrim::kNone:
      return "none";
    case VocabTrim::kUnused:
      return "unused";
    case VocabTrim::kLatin:
      return "latin";
  }
  return "?";
}

bool is_non_latin_script(char32_t cp) {
  if (cp >= 0x20000 && cp <= 0x3FFFF) return true;  // CJK extensions B and later
  return std::any_of(kNonLatin.begin(), kNonLatin.end(),
                     [cp](const auto& r) { return cp >= r.first && cp <= r.second; });
}

std::vector<std::int64_t> kept_tokens(const text::Vocab& vocab, const text::TokenizerConfig& config, VocabTrim trim) {
  const std::vector<std::string>& tokens = vocab.tokens();
  const std::array<const std::string*, 5> specials{&config.unk_token, &config.cls_token, &config.sep_token,
                                                   &config.pad_token, &config.mask_token};
  std::vector<std::int64_t> kept;
  kept.reserve(tokens.size());
  std::u32string cps;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    bool keep = true;
    const bool special = std::any_of(specials.begin(), specials.end(), [&](const std::string* s) { return *s == t; });
    if (!special && trim != VocabTrim::kNone) {
      if (t.size() > 8 && t.rfind("[unused", 0) == 0 && t.back() == ']') keep = false;
      if (keep && trim == VocabTrim::kLatin) {
        cps.clear();
        text::decode_utf8(t, text::Utf8Policy::kReplace, cps, "vocabulary token");
        keep = std::none_of(cps.begin(), cps.end(), is_non_latin_script);
      }
    }
    if (keep) kept.push_back(static_cast<std::int64_t>(i));
  }
  return kept;
}

std::vector<float> TrimmedWeights::vector(const std::string& canonical, const std::vector<std::int64_t>& shape) const {
  if (canonical != "embeddings.word.weight") return base_.vector(canonical, shape);
  return matrix(canonical, shape.at(0), shape.at(1)).f32;
}

StoredMatrix TrimmedWeights::matrix(const std::string& canonical, std::int64_t rows, std::int64_t cols) const {
  if (canonical != "embeddings.word.weight") return base_.matrix(canonical, rows, cols);
  if (rows != static_cast<std::int64_t>(kept_.size())) {
    throw Error(base_.source() + ": trimmed vocabulary has " + std::to_string(kept_.size()) + " rows, asked for " +
                std::to_string(rows));
  }
  const StoredMatrix full = base_.matrix(canonical, full_rows_, cols);
  if (full.is_int8()) throw Error(base_.source() + ": cannot trim an already quantized embedding matrix");
  StoredMatrix out;
  out.rows = rows;
  out.cols = cols;
  out.f32.resize(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(full.f32.begin() + kept_[static_cast<std::size_t>(r)] * cols, cols,
                out.f32.begin() + r * cols);
  }
  return out;
}

}  // namespace edgeroute::engine
