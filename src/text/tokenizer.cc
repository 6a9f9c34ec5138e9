#include "edgeroute/text/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"

namespace edgeroute::text {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A special token in tokenizer_config.json is a string or a serialized
// AddedToken object {"content": "...", ...}.
void read_token(const json& cfg, const char* key, std::string& out, const std::string& source) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return;
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    out = (*it)["content"].get<std::string>();
  } else {
    throw Error(source + ": field '" + key + "' must be a string or {\"content\": ...}");
  }
}

bool read_bool(const json& cfg, const char* key, bool fallback, const std::string& source) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw Error(source + ": field '" + key + "' must be true or false");
  return it->get<bool>();
}

json read_json_object(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": expected a JSON object");
  return j;
}

}  // namespace

TokenizerConfig load_tokenizer_config(const std::string& dir) {
  TokenizerConfig c;
  bool lowercase = true;
  std::optional<bool> strip_accents;
  const fs::path tc = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(tc)) {
    const std::string source = tc.string();
    const json cfg = read_json_object(source);
    if (const auto it = cfg.find("tokenizer_class"); it != cfg.end() && it->is_string()) {
      static constexpr std::string_view kSupported[] = {"BertTokenizer", "BertTokenizerFast", "DistilBertTokenizer",
                                                        "DistilBertTokenizerFast"};
      const auto cls = it->get<std::string>();
      if (std::find(std::begin(kSupported), std::end(kSupported), cls) == std::end(kSupported)) {
        throw Error(source + ": tokenizer_class '" + cls +
                    "' is not supported (supported: BertTokenizer[Fast], DistilBertTokenizer[Fast])");
      }
    }
    lowercase = read_bool(cfg, "do_lower_case", true, source);
    if (const auto it = cfg.find("strip_accents"); it != cfg.end() && !it->is_null()) {
      if (!it->is_boolean()) throw Error(source + ": field 'strip_accents' must be true, false or null");
      strip_accents = it->get<bool>();
    }
    c.normalizer.handle_chinese_chars = read_bool(cfg, "tokenize_chinese_chars", true, source);
    if (const auto it = cfg.find("model_max_length"); it != cfg.end() && it->is_number()) {
      // Hugging Face writes a huge sentinel (1e30) when there is no limit.
      const double v = it->get<double>();
      if (v >= 2 && v < 1e9) c.model_max_length = static_cast<std::int64_t>(v);
    }
    read_token(cfg, "unk_token", c.unk_token, source);
    read_token(cfg, "cls_token", c.cls_token, source);
    read_token(cfg, "sep_token", c.sep_token, source);
    read_token(cfg, "pad_token", c.pad_token, source);
    read_token(cfg, "mask_token", c.mask_token, source);
  }
  c.normalizer.lowercase = lowercase;
  c.normalizer.strip_accents = strip_accents.value_or(lowercase);

  const fs::path mc = fs::path(dir) / "config.json";
  if (fs::exists(mc)) {
    const json cfg = read_json_object(mc.string());
    if (const auto it = cfg.find("max_position_embeddings"); it != cfg.end() && it->is_number_integer()) {
      const auto positions = it->get<std::int64_t>();
      if (positions >= 2) c.model_max_length = std::min(c.model_max_length, positions);
    }
  }
  return c;
}

Tokenizer::Tokenizer(Vocab vocab, TokenizerConfig config) : vocab_(std::move(vocab)), config_(std::move(config)) {
  const auto require = [&](const std::string& token, const char* role) {
    const auto id = vocab_.find(token);
    if (!id) throw Error(std::string("tokenizer: ") + role + " token '" + token + "' is not in the vocabulary");
    return *id;
  };
  unk_id_ = require(config_.unk_token, "unknown");
  cls_id_ = require(config_.cls_token, "classifier");
  sep_id_ = require(config_.sep_token, "separator");
  pad_id_ = require(config_.pad_token, "padding");
  mask_id_ = require(config_.mask_token, "mask");
  if (config_.max_input_chars_per_word < 1) throw Error("tokenizer: max_input_chars_per_word must be >= 1");
  if (config_.model_max_length < 2) throw Error("tokenizer: model_max_length must be >= 2");
  for (const std::string* t :
       {&config_.pad_token, &config_.unk_token, &config_.cls_token, &config_.sep_token, &config_.mask_token}) {
    if (t->empty()) throw Error("tokenizer: special tokens must not be empty");
    const bool seen = std::any_of(specials_.begin(), specials_.end(), [&](const Special& s) { return s.text == *t; });
    if (!seen) specials_.push_back({*t, *vocab_.find(*t)});
    special_first_byte_[static_cast<unsigned char>((*t)[0])] = true;
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
}

Tokenizer Tokenizer::from_pretrained(const std::string& dir) {
  const fs::path vocab = fs::path(dir) / "vocab.txt";
  if (!fs::exists(vocab)) throw Error(dir + ": no vocab.txt (expected a Hugging Face BERT model directory)");
  return Tokenizer(Vocab::load(vocab.string()), load_tokenizer_config(dir));
}

const Tokenizer::Special* Tokenizer::special_at(std::string_view text, std::size_t pos) const {
  if (!special_first_byte_[static_cast<unsigned char>(text[pos])]) return nullptr;
  for (const Special& s : specials_) {
    if (text.compare(pos, s.text.size(), s.text) == 0) return &s;
  }
  return nullptr;
}

void Tokenizer::encode_word(std::vector<std::int32_t>& ids, Workspace& ws) const {
  const std::string& word = ws.word;
  const auto& ends = ws.char_ends;
  if (static_cast<std::int64_t>(ends.size()) > config_.max_input_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  const std::size_t rollback = ids.size();
  std::size_t start = 0;       // byte offset
  std::size_t start_char = 0;  // char index of `start`
  while (start < word.size()) {
    std::size_t end_char = ends.size();
    std::optional<std::int32_t> id;
    while (end_char > start_char) {
      const std::size_t end = ends[end_char - 1];
      const std::string_view piece(word.data() + start, end - start);
      id = start == 0 ? vocab_.find(piece) : vocab_.find_continuation(piece);
      if (id) break;
      --end_char;
    }
    if (!id) {
      ids.resize(rollback);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(*id);
    start = ends[end_char - 1];
    start_char = end_char;
  }
}

bool Tokenizer::encode_segment(std::string_view segment, std::vector<std::int32_t>& ids, std::size_t limit,
                               Workspace& ws, Utf8Policy policy) const {
  ws.decoded.clear();
  decode_utf8(segment, policy, ws.decoded);
  bert_normalize(ws.decoded, config_.normalizer, ws.normalized, ws.scratch);

  ws.word.clear();
  ws.char_ends.clear();
  const auto flush = [&]() -> bool {
    if (ws.word.empty()) return true;
    encode_word(ids, ws);
    ws.word.clear();
    ws.char_ends.clear();
    return ids.size() <= limit;
  };
  for (const char32_t cp : ws.normalized) {
    if (is_bert_whitespace(cp)) {
      if (!flush()) return false;
    } else if (is_bert_punctuation(cp)) {
      if (!flush()) return false;
      append_utf8(cp, ws.word);
      ws.char_ends.push_back(static_cast<std::uint32_t>(ws.word.size()));
      if (!flush()) return false;
    } else {
      append_utf8(cp, ws.word);
      ws.char_ends.push_back(static_cast<std::uint32_t>(ws.word.size()));
    }
  }
  return flush();
}

bool Tokenizer::encode(std::string_view text, std::vector<std::int32_t>& ids, Workspace& ws, std::int64_t max_len,
                       Utf8Policy policy) const {
  if (max_len <= 0) max_len = config_.model_max_length;
  if (max_len < 2) throw Error("tokenizer: max length must be at least 2 (room for [CLS] and [SEP])");
  const std::size_t base = ids.size();
  ids.push_back(cls_id_);
  // Stop as soon as one piece more than fits has been produced: enough to
  // know the text is truncated, without tokenizing the rest of a huge text.
  const std::size_t limit = base + static_cast<std::size_t>(max_len);
  bool complete = true;
  std::size_t seg_start = 0;
  for (std::size_t pos = 0; pos < text.size() && complete;) {
    const Special* s = special_at(text, pos);
    if (s == nullptr) {
      ++pos;
      continue;
    }
    complete = encode_segment(text.substr(seg_start, pos - seg_start), ids, limit, ws, policy);
    if (complete) {
      ids.push_back(s->id);
      complete = ids.size() <= limit;
    }
    pos += s->text.size();
    seg_start = pos;
  }
  if (complete) complete = encode_segment(text.substr(seg_start), ids, limit, ws, policy);
  const bool truncated = ids.size() > limit - 1;
  if (truncated) ids.resize(limit - 1);
  ids.push_back(sep_id_);
  return truncated;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, std::int64_t max_len, Utf8Policy policy) const {
  std::vector<std::int32_t> ids;
  Workspace ws;
  encode(text, ids, ws, max_len, policy);
  return ids;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text, Utf8Policy policy) const {
  std::vector<std::int32_t> ids;
  Workspace ws;
  // Room for every byte to become a token, so nothing is truncated.
  encode(text, ids, ws, static_cast<std::int64_t>(text.size()) + 2, policy);
  std::vector<std::string> out;
  for (std::size_t i = 1; i + 1 < ids.size(); ++i) out.push_back(vocab_.token(ids[i]));
  return out;
}

TokenBatch pad_batch(std::span<const std::vector<std::int32_t>> sequences, std::int32_t pad_id) {
  TokenBatch b;
  b.rows = static_cast<std::int64_t>(sequences.size());
  for (const auto& s : sequences) b.cols = std::max(b.cols, static_cast<std::int64_t>(s.size()));
  const auto n = static_cast<std::size_t>(b.rows * b.cols);
  b.ids.assign(n, pad_id);
  b.attention_mask.assign(n, 0);
  for (std::size_t r = 0; r < sequences.size(); ++r) {
    const auto off = r * static_cast<std::size_t>(b.cols);
    std::copy(sequences[r].begin(), sequences[r].end(), b.ids.begin() + static_cast<std::ptrdiff_t>(off));
    std::fill_n(b.attention_mask.begin() + static_cast<std::ptrdiff_t>(off), sequences[r].size(), 1);
  }
  return b;
}

}  // namespace edgeroute::text
