// Loading an EncoderModel from, and saving it to, a Hugging Face model
// directory through the model I/O library (config.json + model.safetensors).
//
// Load
//   * config.json via modelio::load_hf_config; model.safetensors mapped and
//     validated (modelio::check_tensors for the heads the file carries), its
//     tensors renamed to canonical names (canonical_tensors) and converted
//     from F32/F16/BF16/F64 to float32. The file is closed before returning.
//   * Every encoder tensor must be present. A head the checkpoint lacks is
//     initialised as HF does (normal(0, initializer_range), LayerNorm 1/0,
//     biases 0), drawn from LoadOptions::seed, and listed in
//     LoadReport::initialized; e.g. the MLM head of all-MiniLM-L6-v2, or a new
//     classifier. Checkpoint tensors the chosen task does not use (another
//     head, or the BERT pooler for a masked-LM model, which HF's
//     BertForMaskedLM does not have) are listed in LoadReport::unused.
//   * The MLM decoder is tied to the word embeddings; a checkpoint whose
//     decoder weight differs from them is refused (untied decoders are not
//     supported).
//   * The model is returned on the CPU in eval() mode.
//
// Save
//   * Writes OUT/config.json (the loaded config with `architectures` set to
//     the task's HF class, id2label/label2id for a classifier, dtype float32),
//     OUT/model.safetensors (float32, HF names; encoder tensors under "bert." /
//     "distilbert." for *ForMaskedLM and *ForSequenceClassification, no prefix
//     for the bare encoder, so AutoModel* loads it without missing or
//     unexpected keys), and copies vocab.txt, tokenizer_config.json,
//     special_tokens_map.json and tokenizer.json from SaveOptions::tokenizer_dir
//     when present there.
//   * Atomic at the directory level: everything is written and fsynced in a
//     sibling OUT.tmp-XXXXXX, which then replaces OUT in one rename (an
//     existing OUT is swapped out atomically with renameat2(RENAME_EXCHANGE)
//     and removed, only when SaveOptions::overwrite). On any failure the
//     temporary directory is removed and OUT is left as it was.
//
// Errors are edgeroute::Error naming the file or field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/modelio/label_map.h"
#include "edgeroute/train/modules.h"

namespace edgeroute::train {

struct LoadOptions {
  // The head to build. nullopt: from config.json's architectures
  // (*ForSequenceClassification -> classifier, *ForMaskedLM -> MLM, else the
  // bare encoder).
  std::optional<Task> task{};
  // Classifier classes. Empty: the checkpoint's id2label (Error when it has
  // none). When given and different from the checkpoint's id2label, the
  // classifier head is newly initialised for them.
  modelio::LabelMap labels{};
  // Seed of the initialisation of missing heads (deterministic).
  std::uint64_t seed = 0;
};

struct LoadReport {
  std::string source;                    // the directory
  std::string prefix;                    // detected encoder prefix ("bert.", "distilbert." or "")
  std::vector<std::string> initialized;  // canonical names newly initialised
  std::vector<std::string> unused;       // canonical names in the file but not in the model
};

struct LoadedModel {
  EncoderModel model{nullptr};
  LoadReport report;
};

LoadedModel load_model(const std::string& dir, const LoadOptions& options = {});

struct SaveOptions {
  // Where vocab.txt and the tokenizer configs are copied from (usually the
  // directory the model was loaded from); empty: none are copied.
  std::string tokenizer_dir{};
  // Replace an existing OUT; otherwise an existing OUT is an Error.
  bool overwrite = false;
  // Fields merged into config.json (e.g. "edgeroute_temperature").
  nlohmann::json config_fields = nlohmann::json::object();
  // More files written into OUT with the rest, atomically: {name, bytes}.
  // Names are plain file names (no directory part).
  std::vector<std::pair<std::string, std::string>> extra_files{};
};

// The HF class name a saved checkpoint declares, e.g. "BertForMaskedLM".
std::string hf_architecture(modelio::Architecture arch, Task task);

// Saves `model` (any device; parameters are copied to the CPU) to `out_dir`.
void save_model(EncoderModelImpl& model, const std::string& out_dir, const SaveOptions& options = {});

}  // namespace edgeroute::train
