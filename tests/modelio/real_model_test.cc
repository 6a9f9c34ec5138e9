// Tests on the real all-MiniLM-L6-v2 checkpoint (ctest label `real`).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "edgeroute/common/sha256.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::modelio {
namespace {

namespace fs = std::filesystem;

const fs::path kModelDir = EDGEROUTE_MODEL_DIR;

#define SKIP_WITHOUT_MODEL()                                                     \
  if (!fs::exists(kModelDir / "model.safetensors")) {                            \
    GTEST_SKIP() << "no model at " << (kModelDir / "model.safetensors").string() \
                 << " (set EDGEROUTE_MODEL_DIR or run scripts/setup.sh)";        \
  }

TEST(RealModel, MiniLmConfigAndTensorsCheck) {
  SKIP_WITHOUT_MODEL();
  const EncoderConfig config = load_hf_config(kModelDir.string());
  EXPECT_EQ(config.arch, Architecture::kBert);
  EXPECT_EQ(config.num_layers, 6);
  EXPECT_EQ(config.hidden_size, 384);
  EXPECT_EQ(config.num_heads, 12);
  EXPECT_EQ(config.intermediate_size, 1536);
  EXPECT_EQ(config.vocab_size, 30522);
  const SafetensorsFile file = SafetensorsFile::open((kModelDir / "model.safetensors").string());
  EXPECT_EQ(file.tensors().size(), 104u);
  EXPECT_EQ(detect_prefix(Architecture::kBert, file), "");
  EXPECT_NO_THROW(check_tensors(config, file, Heads{.pooler = true}));
  EXPECT_EQ(file.at("embeddings.position_ids").dtype, DType::kI64);
  const auto word = file.at("embeddings.word_embeddings.weight").as<float>();
  EXPECT_EQ(word.size(), 30522u * 384u);
}

// Compares every tensor with the digests Hugging Face's safetensors library
// produced (python/dump_tensor_digests.py, run by ctest as a fixture).
TEST(RealModel, TensorsMatchHuggingFaceDigests) {
  SKIP_WITHOUT_MODEL();
  const fs::path digests = EDGEROUTE_MODELIO_DIGESTS;
  if (!fs::exists(digests)) {
    GTEST_SKIP() << "no Hugging Face digests at " << digests.string()
                 << " (configure with EDGEROUTE_PYTHON and run through ctest)";
  }
  const SafetensorsFile file = SafetensorsFile::open((kModelDir / "model.safetensors").string());
  std::ifstream in(digests);
  std::string line;
  std::size_t compared = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    const std::string name = row.at("name").get<std::string>();
    const TensorView* t = file.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(std::string(dtype_name(t->dtype)), row.at("dtype").get<std::string>()) << name;
    EXPECT_EQ(t->shape, row.at("shape").get<std::vector<std::int64_t>>()) << name;
    EXPECT_EQ(sha256_hex(t->data), row.at("sha256").get<std::string>()) << name;
    ++compared;
  }
  EXPECT_EQ(compared, file.tensors().size());
}

}  // namespace
}  // namespace edgeroute::modelio
