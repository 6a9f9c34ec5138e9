// The one table between Hugging Face tensor names and edgeroute's canonical
// names, and the list of tensors each architecture needs.
//
// Canonical names (H = hidden, I = intermediate, V = vocab, P = positions,
// T = token types, L = labels; Linear weights are [out, in] as in PyTorch):
//   embeddings.word.weight [V,H]   embeddings.position.weight [P,H]
//   embeddings.token_type.weight [T,H] (BERT)   embeddings.norm.{weight,bias} [H]
//   layers.{i}.attn.{q,k,v,o}.weight [H,H], .bias [H]
//   layers.{i}.attn_norm.{weight,bias} [H]
//   layers.{i}.ffn.up.weight [I,H], .bias [I]
//   layers.{i}.ffn.down.weight [H,I], .bias [H]
//   layers.{i}.ffn_norm.{weight,bias} [H]
//   pooler.{weight [H,H], bias [H]}                       (BERT)
//   head.pre.{weight [H,H], bias [H]}                     (DistilBERT pre_classifier)
//   head.out.{weight [L,H], bias [L]}                     (classifier)
//   mlm.transform.{weight [H,H], bias [H]}, mlm.norm.{weight,bias} [H],
//   mlm.decoder.weight [V,H] (optional: tied to embeddings.word.weight), mlm.bias [V]
//
// Hugging Face names put the encoder under a prefix ("bert.", "distilbert.",
// or none as in sentence-transformers checkpoints such as all-MiniLM-L6-v2);
// heads (classifier, pre_classifier, cls.*, vocab_*) never have one. Legacy
// "LayerNorm.gamma"/"LayerNorm.beta" are read as weight/bias. Known buffers
// and unused heads are ignored: embeddings.position_ids,
// embeddings.token_type_ids, cls.seq_relationship.{weight,bias} (BERT's
// next-sentence head).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"

namespace edgeroute::modelio {

// The canonical name of an HF tensor name (prefixed or not); nullopt for
// names outside the table, including the ignored buffers.
std::optional<std::string> to_canonical(Architecture arch, std::string_view hf_name);
// True for the ignored names listed above (with or without the prefix).
bool is_ignored_tensor(Architecture arch, std::string_view hf_name);
// The primary HF name of a canonical name. `prefix` ("bert", "bert." or "")
// goes before encoder tensors only. Throws Error for unknown canonical names.
std::string to_hf(Architecture arch, std::string_view canonical, std::string_view prefix);
// "bert." / "distilbert." when the file's word embeddings carry that prefix, else "".
std::string detect_prefix(Architecture arch, const SafetensorsFile& file);

// Which heads a checkpoint is expected to carry besides the encoder.
struct Heads {
  bool pooler = false;      // BERT pooler; ignored for DistilBERT, which has none
  bool classifier = false;  // head.out (+ head.pre for DistilBERT); needs config labels
  bool mlm = false;         // masked-LM head
};

struct TensorSpec {
  std::string canonical;
  std::vector<std::int64_t> shape;
  bool required = true;  // false: may be absent (mlm.decoder.weight, tied)
};

// Every tensor the config and heads call for, encoder first, layers in order.
// Throws Error when a classifier is asked for but the config has no labels.
std::vector<TensorSpec> expected_tensors(const EncoderConfig& config, Heads heads);

// Validates a checkpoint against the config. Throws one Error (naming the
// file) listing every missing required tensor, every shape mismatch (expected
// vs found), every non-float dtype, every unknown tensor name (ignored buffers
// excepted), layer indices past the config, mixed prefixes and tensors given
// twice under different HF names. Known optional tensors present but not
// requested (e.g. a pooler) are accepted without a shape check.
void check_tensors(const EncoderConfig& config, const SafetensorsFile& file, Heads heads);

// Canonical name -> tensor for every known tensor of the file; throws like
// check_tensors for unknown names, mixed prefixes and duplicates (but checks
// neither shapes nor completeness). Views point into `file`.
std::map<std::string, const TensorView*, std::less<>> canonical_tensors(Architecture arch, const SafetensorsFile& file);

}  // namespace edgeroute::modelio
