#include "tiny_classifier.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "edgeroute/modelio/hf_config.h"
#include "tiny_models.h"

namespace edgeroute::test {

std::string write_tiny_classifier(const std::string& dir) {
  namespace fs = std::filesystem;
  using namespace edgeroute::modelio;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const EncoderConfig config = testing::tiny_config(Architecture::kBert, 3);
  std::ofstream(fs::path(dir) / "config.json") << to_hf_json(config).dump(2);
  // Small smooth weights (LayerNorm gains 1) so that every logit is finite
  // and the three labels all occur.
  SafetensorsWriter writer;
  int seed = 0;
  for (const testing::TinyTensor& t :
       testing::tiny_tensors(config, Heads{.pooler = true, .classifier = true}, "bert.")) {
    std::int64_t n = 1;
    for (const std::int64_t d : t.shape) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    const bool gain = t.hf_name.find("LayerNorm.weight") != std::string::npos;
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = gain ? 1.0f : 0.5f * static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 1.3 * seed));
    }
    writer.add<float>(t.hf_name, t.shape, v);
    ++seed;
  }
  writer.set_metadata("format", "pt");
  writer.write((fs::path(dir) / "model.safetensors").string());
  std::ofstream vocab(fs::path(dir) / "vocab.txt");
  for (const char* w :
       {"[PAD]", "[UNK]", "[CLS]", "[SEP]",   "[MASK]",  "my",     "card",   "was", "declined", "refund", "please",
        "order", "where", "is",    "the",     "manager", "now",    "thanks", "a",   "lot",      "help",   "i",
        "want",  "to",    "talk",  "account", "email",   "number", "!",      ".",   "?",        ","}) {
    vocab << w << "\n";
  }
  return dir;
}

}  // namespace edgeroute::test
