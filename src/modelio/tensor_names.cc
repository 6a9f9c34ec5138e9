#include "edgeroute/modelio/tensor_names.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <span>

#include "edgeroute/common/error.h"
#include "quote.h"

namespace edgeroute::modelio {

namespace {

// One row per tensor. `encoder` rows take the encoder prefix; the first row
// of a canonical name is the primary HF name (to_hf), later rows are aliases.
struct NameRule {
  std::string_view hf;
  std::string_view canonical;
  bool encoder;
};

constexpr NameRule kBertRules[] = {
    {"embeddings.word_embeddings.weight", "embeddings.word.weight", true},
    {"embeddings.position_embeddings.weight", "embeddings.position.weight", true},
    {"embeddings.token_type_embeddings.weight", "embeddings.token_type.weight", true},
    {"embeddings.LayerNorm.weight", "embeddings.norm.weight", true},
    {"embeddings.LayerNorm.bias", "embeddings.norm.bias", true},
    {"encoder.layer.{i}.attention.self.query.weight", "layers.{i}.attn.q.weight", true},
    {"encoder.layer.{i}.attention.self.query.bias", "layers.{i}.attn.q.bias", true},
    {"encoder.layer.{i}.attention.self.key.weight", "layers.{i}.attn.k.weight", true},
    {"encoder.layer.{i}.attention.self.key.bias", "layers.{i}.attn.k.bias", true},
    {"encoder.layer.{i}.attention.self.value.weight", "layers.{i}.attn.v.weight", true},
    {"encoder.layer.{i}.attention.self.value.bias", "layers.{i}.attn.v.bias", true},
    {"encoder.layer.{i}.attention.output.dense.weight", "layers.{i}.attn.o.weight", true},
    {"encoder.layer.{i}.attention.output.dense.bias", "layers.{i}.attn.o.bias", true},
    {"encoder.layer.{i}.attention.output.LayerNorm.weight", "layers.{i}.attn_norm.weight", true},
    {"encoder.layer.{i}.attention.output.LayerNorm.bias", "layers.{i}.attn_norm.bias", true},
    {"encoder.layer.{i}.intermediate.dense.weight", "layers.{i}.ffn.up.weight", true},
    {"encoder.layer.{i}.intermediate.dense.bias", "layers.{i}.ffn.up.bias", true},
    {"encoder.layer.{i}.output.dense.weight", "layers.{i}.ffn.down.weight", true},
    {"encoder.layer.{i}.output.dense.bias", "layers.{i}.ffn.down.bias", true},
    {"encoder.layer.{i}.output.LayerNorm.weight", "layers.{i}.ffn_norm.weight", true},
    {"encoder.layer.{i}.output.LayerNorm.bias", "layers.{i}.ffn_norm.bias", true},
    {"pooler.dense.weight", "pooler.weight", true},
    {"pooler.dense.bias", "pooler.bias", true},
    {"classifier.weight", "head.out.weight", false},
    {"classifier.bias", "head.out.bias", false},
    {"cls.predictions.transform.dense.weight", "mlm.transform.weight", false},
    {"cls.predictions.transform.dense.bias", "mlm.transform.bias", false},
    {"cls.predictions.transform.LayerNorm.weight", "mlm.norm.weight", false},
    {"cls.predictions.transform.LayerNorm.bias", "mlm.norm.bias", false},
    {"cls.predictions.decoder.weight", "mlm.decoder.weight", false},
    {"cls.predictions.bias", "mlm.bias", false},
    {"cls.predictions.decoder.bias", "mlm.bias", false},  // alias, tied to the above
};

constexpr NameRule kDistilBertRules[] = {
    {"embeddings.word_embeddings.weight", "embeddings.word.weight", true},
    {"embeddings.position_embeddings.weight", "embeddings.position.weight", true},
    {"embeddings.LayerNorm.weight", "embeddings.norm.weight", true},
    {"embeddings.LayerNorm.bias", "embeddings.norm.bias", true},
    {"transformer.layer.{i}.attention.q_lin.weight", "layers.{i}.attn.q.weight", true},
    {"transformer.layer.{i}.attention.q_lin.bias", "layers.{i}.attn.q.bias", true},
    {"transformer.layer.{i}.attention.k_lin.weight", "layers.{i}.attn.k.weight", true},
    {"transformer.layer.{i}.attention.k_lin.bias", "layers.{i}.attn.k.bias", true},
    {"transformer.layer.{i}.attention.v_lin.weight", "layers.{i}.attn.v.weight", true},
    {"transformer.layer.{i}.attention.v_lin.bias", "layers.{i}.attn.v.bias", true},
    {"transformer.layer.{i}.attention.out_lin.weight", "layers.{i}.attn.o.weight", true},
    {"transformer.layer.{i}.attention.out_lin.bias", "layers.{i}.attn.o.bias", true},
    {"transformer.layer.{i}.sa_layer_norm.weight", "layers.{i}.attn_norm.weight", true},
    {"transformer.layer.{i}.sa_layer_norm.bias", "layers.{i}.attn_norm.bias", true},
    {"transformer.layer.{i}.ffn.lin1.weight", "layers.{i}.ffn.up.weight", true},
    {"transformer.layer.{i}.ffn.lin1.bias", "layers.{i}.ffn.up.bias", true},
    {"transformer.layer.{i}.ffn.lin2.weight", "layers.{i}.ffn.down.weight", true},
    {"transformer.layer.{i}.ffn.lin2.bias", "layers.{i}.ffn.down.bias", true},
    {"transformer.layer.{i}.output_layer_norm.weight", "layers.{i}.ffn_norm.weight", true},
    {"transformer.layer.{i}.output_layer_norm.bias", "layers.{i}.ffn_norm.bias", true},
    {"pre_classifier.weight", "head.pre.weight", false},
    {"pre_classifier.bias", "head.pre.bias", false},
    {"classifier.weight", "head.out.weight", false},
    {"classifier.bias", "head.out.bias", false},
    {"vocab_transform.weight", "mlm.transform.weight", false},
    {"vocab_transform.bias", "mlm.transform.bias", false},
    {"vocab_layer_norm.weight", "mlm.norm.weight", false},
    {"vocab_layer_norm.bias", "mlm.norm.bias", false},
    {"vocab_projector.weight", "mlm.decoder.weight", false},
    {"vocab_projector.bias", "mlm.bias", false},
};

constexpr std::string_view kBertIgnored[] = {"embeddings.position_ids", "embeddings.token_type_ids",  // encoder buffers
                                             "cls.seq_relationship.weight", "cls.seq_relationship.bias"};
constexpr std::string_view kDistilBertIgnored[] = {"embeddings.position_ids"};

std::span<const NameRule> rules(Architecture arch) {
  if (arch == Architecture::kBert) return kBertRules;
  return kDistilBertRules;
}

std::string_view arch_prefix(Architecture arch) { return arch == Architecture::kBert ? "bert." : "distilbert."; }

constexpr std::string_view kLayerSlot = "{i}";
constexpr std::size_t kMaxLayerDigits = 4;

// Matches `name` against `pattern`; on success returns the layer index text
// ("" when the pattern has no {i}).
std::optional<std::string_view> match_pattern(std::string_view pattern, std::string_view name) {
  const std::size_t slot = pattern.find(kLayerSlot);
  if (slot == std::string_view::npos) {
    if (pattern == name) return std::string_view();
    return std::nullopt;
  }
  const std::string_view head = pattern.substr(0, slot);
  const std::string_view tail = pattern.substr(slot + kLayerSlot.size());
  if (name.size() <= head.size() + tail.size() || !name.starts_with(head) || !name.ends_with(tail)) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(head.size(), name.size() - head.size() - tail.size());
  if (digits.size() > kMaxLayerDigits || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return digits;
}

std::string substitute(std::string_view pattern, std::string_view index) {
  std::string out(pattern);
  const std::size_t slot = out.find(kLayerSlot);
  if (slot != std::string::npos) out.replace(slot, kLayerSlot.size(), index);
  return out;
}

struct Match {
  std::string canonical;
  bool encoder = false;
  bool prefixed = false;
};

std::string normalize_legacy(std::string_view hf_name) {
  std::string name(hf_name);
  if (name.ends_with("LayerNorm.gamma"))
    name.replace(name.size() - 5, 5, "weight");
  else if (name.ends_with("LayerNorm.beta"))
    name.replace(name.size() - 4, 4, "bias");
  return name;
}

std::optional<Match> match_name(Architecture arch, std::string_view hf_name) {
  const std::string name = normalize_legacy(hf_name);
  const std::string_view prefix = arch_prefix(arch);
  const bool prefixed = std::string_view(name).starts_with(prefix);
  const std::string_view rest = prefixed ? std::string_view(name).substr(prefix.size()) : name;
  for (const NameRule& rule : rules(arch)) {
    if (prefixed && !rule.encoder) continue;
    if (const auto index = match_pattern(rule.hf, rest)) {
      return Match{substitute(rule.canonical, *index), rule.encoder, prefixed};
    }
  }
  return std::nullopt;
}

std::string quote_name(std::string_view s) { return detail::quote(s); }

std::string shape_text(std::span<const std::int64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Layer index of a canonical "layers.{i}...." name, or -1.
std::int64_t layer_of(std::string_view canonical) {
  constexpr std::string_view kLayers = "layers.";
  if (!canonical.starts_with(kLayers)) return -1;
  std::int64_t index = -1;
  const char* first = canonical.data() + kLayers.size();
  std::from_chars(first, canonical.data() + canonical.size(), index);
  return index;
}

using CanonicalMap = std::map<std::string, const TensorView*, std::less<>>;

// Maps the file's tensors to canonical names, appending every naming problem.
CanonicalMap collect(Architecture arch, const SafetensorsFile& file, std::int64_t num_layers,
                     std::vector<std::string>& problems) {
  CanonicalMap out;
  std::set<std::string> prefixes;
  for (const TensorView& t : file.tensors()) {
    if (is_ignored_tensor(arch, t.name)) continue;
    const std::optional<Match> m = match_name(arch, t.name);
    if (!m) {
      problems.push_back("unknown tensor " + quote_name(t.name) + " for " + std::string(architecture_name(arch)));
      continue;
    }
    if (m->encoder) prefixes.insert(m->prefixed ? std::string(arch_prefix(arch)) : std::string());
    const std::int64_t layer = layer_of(m->canonical);
    if (num_layers >= 0 && layer >= num_layers) {
      problems.push_back("tensor " + quote_name(t.name) + " belongs to layer " + std::to_string(layer) +
                         " but the config has " + std::to_string(num_layers) + " layers");
      continue;
    }
    const auto [it, inserted] = out.emplace(m->canonical, &t);
    if (!inserted) {
      const TensorView& first = *it->second;
      const bool same = first.dtype == t.dtype && first.shape == t.shape &&
                        std::equal(first.data.begin(), first.data.end(), t.data.begin(), t.data.end());
      // Old checkpoints store tied tensors under both names; identical copies are harmless.
      if (!same) {
        problems.push_back("tensors " + quote_name(first.name) + " and " + quote_name(t.name) + " both map to " +
                           quote_name(m->canonical) + " but differ");
      }
    }
  }
  if (prefixes.size() > 1) {
    problems.push_back("encoder tensors mix the prefix '" + std::string(arch_prefix(arch)) + "' with unprefixed names");
  }
  return out;
}

[[noreturn]] void throw_problems(const SafetensorsFile& file, Architecture arch,
                                 const std::vector<std::string>& problems) {
  std::string message = file.path() + ": checkpoint does not match the " + std::string(architecture_name(arch)) +
                        " config (" + std::to_string(problems.size()) + " problem" + (problems.size() == 1 ? "" : "s") +
                        "):";
  for (const std::string& p : problems) message += "\n  - " + p;
  throw Error(message);
}

}  // namespace

std::optional<std::string> to_canonical(Architecture arch, std::string_view hf_name) {
  std::optional<Match> m = match_name(arch, hf_name);
  if (!m) return std::nullopt;
  return std::move(m->canonical);
}

bool is_ignored_tensor(Architecture arch, std::string_view hf_name) {
  const std::string_view prefix = arch_prefix(arch);
  const std::string_view rest = hf_name.starts_with(prefix) ? hf_name.substr(prefix.size()) : hf_name;
  const std::span<const std::string_view> ignored = arch == Architecture::kBert
                                                        ? std::span<const std::string_view>(kBertIgnored)
                                                        : std::span<const std::string_view>(kDistilBertIgnored);
  for (const std::string_view name : ignored) {
    if (rest == name) return true;
  }
  return false;
}

std::string to_hf(Architecture arch, std::string_view canonical, std::string_view prefix) {
  for (const NameRule& rule : rules(arch)) {
    if (const auto index = match_pattern(rule.canonical, canonical)) {
      std::string out;
      if (rule.encoder && !prefix.empty()) {
        out = std::string(prefix);
        if (!out.ends_with('.')) out += '.';
      }
      return out + substitute(rule.hf, *index);
    }
  }
  throw Error("no Hugging Face name for canonical tensor " + quote_name(canonical) + " in " +
              std::string(architecture_name(arch)));
}

std::string detect_prefix(Architecture arch, const SafetensorsFile& file) {
  const std::string prefix(arch_prefix(arch));
  if (file.find(prefix + "embeddings.word_embeddings.weight") != nullptr) return prefix;
  return "";
}

std::vector<TensorSpec> expected_tensors(const EncoderConfig& c, Heads heads) {
  const std::int64_t h = c.hidden_size;
  const bool bert = c.arch == Architecture::kBert;
  std::vector<TensorSpec> out;
  const auto add = [&](std::string name, std::vector<std::int64_t> shape, bool required = true) {
    out.push_back(TensorSpec{std::move(name), std::move(shape), required});
  };
  const auto add_linear = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    add(name + ".weight", {rows, cols});
    add(name + ".bias", {rows});
  };
  const auto add_norm = [&](const std::string& name) {
    add(name + ".weight", {h});
    add(name + ".bias", {h});
  };
  add("embeddings.word.weight", {c.vocab_size, h});
  add("embeddings.position.weight", {c.max_position_embeddings, h});
  if (bert) add("embeddings.token_type.weight", {c.type_vocab_size, h});
  add_norm("embeddings.norm");
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string layer = "layers." + std::to_string(i);
    for (const char* proj : {".attn.q", ".attn.k", ".attn.v", ".attn.o"}) add_linear(layer + proj, h, h);
    add_norm(layer + ".attn_norm");
    add_linear(layer + ".ffn.up", c.intermediate_size, h);
    add_linear(layer + ".ffn.down", h, c.intermediate_size);
    add_norm(layer + ".ffn_norm");
  }
  if (heads.pooler && bert) add_linear("pooler", h, h);
  if (heads.classifier) {
    if (c.labels.empty()) {
      throw Error("a classifier head was requested but the config has no id2label labels");
    }
    if (!bert) add_linear("head.pre", h, h);
    add_linear("head.out", c.labels.size(), h);
  }
  if (heads.mlm) {
    add_linear("mlm.transform", h, h);
    add_norm("mlm.norm");
    add("mlm.decoder.weight", {c.vocab_size, h}, false);
    add("mlm.bias", {c.vocab_size});
  }
  return out;
}

void check_tensors(const EncoderConfig& config, const SafetensorsFile& file, Heads heads) {
  std::vector<std::string> problems;
  const CanonicalMap found = collect(config.arch, file, config.num_layers, problems);
  const std::string prefix = detect_prefix(config.arch, file);
  for (const TensorSpec& spec : expected_tensors(config, heads)) {
    const auto it = found.find(spec.canonical);
    const std::string hf = to_hf(config.arch, spec.canonical, prefix);
    if (it == found.end()) {
      if (spec.required) problems.push_back("missing tensor " + quote_name(hf) + " (" + spec.canonical + ")");
      continue;
    }
    const TensorView& t = *it->second;
    if (t.shape != spec.shape) {
      problems.push_back("tensor " + quote_name(t.name) + " (" + spec.canonical + ") has shape " + shape_text(t.shape) +
                         ", expected " + shape_text(spec.shape));
    }
  }
  for (const auto& [canonical, t] : found) {
    if (!is_float_dtype(t->dtype)) {
      problems.push_back("tensor " + quote_name(t->name) + " (" + canonical + ") has dtype " +
                         std::string(dtype_name(t->dtype)) + ", expected a float type");
    }
  }
  if (!problems.empty()) throw_problems(file, config.arch, problems);
}

CanonicalMap canonical_tensors(Architecture arch, const SafetensorsFile& file) {
  std::vector<std::string> problems;
  CanonicalMap out = collect(arch, file, -1, problems);
  if (!problems.empty()) throw_problems(file, arch, problems);
  return out;
}

}  // namespace edgeroute::modelio
