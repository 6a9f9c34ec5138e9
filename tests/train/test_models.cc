#include "test_models.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>

#include <nlohmann/json.hpp>

namespace edgeroute::train::testing {

modelio::EncoderConfig tiny_config(modelio::Architecture arch, int labels) {
  nlohmann::json j;
  if (arch == modelio::Architecture::kBert) {
    j = {{"model_type", "bert"},        {"vocab_size", 40},        {"hidden_size", 16},
         {"num_hidden_layers", 2},      {"num_attention_heads", 4}, {"intermediate_size", 32},
         {"max_position_embeddings", 12}, {"type_vocab_size", 2},  {"layer_norm_eps", 1e-12},
         {"pad_token_id", 0}};
  } else {
    j = {{"model_type", "distilbert"}, {"vocab_size", 40}, {"dim", 16}, {"n_layers", 2}, {"n_heads", 4},
         {"hidden_dim", 32}, {"max_position_embeddings", 12}, {"pad_token_id", 0}};
  }
  if (labels > 0) {
    nlohmann::json id2label = nlohmann::json::object();
    for (int i = 0; i < labels; ++i) id2label[std::to_string(i)] = "c" + std::to_string(i);
    j["id2label"] = id2label;
  }
  return modelio::parse_hf_config(j.dump(), "tiny config.json");
}

EncoderModel tiny_model(const modelio::EncoderConfig& config, Task task, bool with_pooler, std::uint64_t seed) {
  EncoderModel model(config, task, with_pooler, at::make_generator<at::CPUGeneratorImpl>(seed));
  model->eval();
  return model;
}

std::string test_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(EDGEROUTE_TEST_BINARY_DIR) / "train_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace edgeroute::train::testing
