// WordPiece vocabulary: token string <-> id.
//
// Loaded from a Hugging Face vocab.txt: one token per line, the id is the
// 0-based line number; trailing whitespace of each line is dropped and a
// later duplicate overrides an earlier one for lookups, as the Rust
// tokenizers library does when it builds a WordPiece model from vocab.txt.
// Continuation pieces ("##xyz") are also indexed without their prefix so the
// tokenizer's inner loop looks up a view of the word without building strings.
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgeroute::text {

class Vocab {
 public:
  // Reads vocab.txt. Throws edgeroute::Error naming the path when it cannot be
  // read, is empty, or has more than 2^24 entries.
  static Vocab load(const std::string& path);
  static Vocab from_tokens(std::vector<std::string> tokens, std::string_view continuing_prefix = "##");

  std::optional<std::int32_t> find(std::string_view token) const;
  // Id of continuing_prefix + piece ("##" + piece).
  std::optional<std::int32_t> find_continuation(std::string_view piece) const;
  // Token text of `id`; throws edgeroute::Error when out of range.
  const std::string& token(std::int32_t id) const;
  std::size_t size() const { return tokens_.size(); }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::int32_t, Hash, std::equal_to<>>;

  std::vector<std::string> tokens_;
  Map whole_;
  Map continuation_;
};

}  // namespace edgeroute::text
