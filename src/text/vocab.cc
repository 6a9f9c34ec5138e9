#include "edgeroute/text/vocab.h"

#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"

namespace edgeroute::text {

namespace {

constexpr std::size_t kMaxVocab = std::size_t{1} << 24;

bool is_trailing_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

}  // namespace

Vocab Vocab::load(const std::string& path) {
  const std::string contents = read_text_file(path);
  std::vector<std::string> tokens;
  std::size_t pos = 0;
  while (pos < contents.size()) {
    std::size_t end = contents.find('\n', pos);
    if (end == std::string::npos) end = contents.size();
    std::string_view line(contents.data() + pos, end - pos);
    while (!line.empty() && is_trailing_space(line.back())) line.remove_suffix(1);
    tokens.emplace_back(line);
    if (tokens.size() > kMaxVocab) {
      throw Error(path + ": more than " + std::to_string(kMaxVocab) + " vocabulary entries");
    }
    pos = end + 1;
  }
  if (tokens.empty()) throw Error(path + ": empty vocabulary");
  return from_tokens(std::move(tokens));
}

Vocab Vocab::from_tokens(std::vector<std::string> tokens, std::string_view continuing_prefix) {
  if (tokens.size() > kMaxVocab) {
    throw Error("vocabulary: more than " + std::to_string(kMaxVocab) + " entries");
  }
  Vocab v;
  v.tokens_ = std::move(tokens);
  v.whole_.reserve(v.tokens_.size());
  for (std::size_t i = 0; i < v.tokens_.size(); ++i) {
    const std::string& t = v.tokens_[i];
    const auto id = static_cast<std::int32_t>(i);
    v.whole_.insert_or_assign(t, id);
    if (!continuing_prefix.empty() && t.size() > continuing_prefix.size() && t.starts_with(continuing_prefix)) {
      v.continuation_.insert_or_assign(t.substr(continuing_prefix.size()), id);
    }
  }
  return v;
}

std::optional<std::int32_t> Vocab::find(std::string_view token) const {
  const auto it = whole_.find(token);
  if (it == whole_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::int32_t> Vocab::find_continuation(std::string_view piece) const {
  const auto it = continuation_.find(piece);
  if (it == continuation_.end()) return std::nullopt;
  return it->second;
}

const std::string& Vocab::token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
    throw Error("vocabulary: token id " + std::to_string(id) + " out of range [0, " + std::to_string(tokens_.size()) +
                ")");
  }
  return tokens_[static_cast<std::size_t>(id)];
}

}  // namespace edgeroute::text
