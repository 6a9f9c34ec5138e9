#include "edgeroute/modelio/inspect.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/hf_config.h"
#include "tiny_models.h"

namespace edgeroute::modelio {
namespace {

namespace fs = std::filesystem;

TEST(Inspect, DescribesADirectoryAndAFile) {
  const fs::path dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / "inspect";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const EncoderConfig config = testing::tiny_config(Architecture::kBert, 2);
  std::ofstream(dir / "config.json") << to_hf_json(config).dump(2);
  SafetensorsWriter writer = testing::tiny_writer(testing::tiny_tensors(config, Heads{.classifier = true}, ""));
  writer.set_metadata("format", "pt");
  writer.write((dir / "model.safetensors").string());

  std::ostringstream out;
  describe_model(dir.string(), out);
  const std::string text = out.str();
  for (const char* expected :
       {"architecture       bert", "layers             2", "hidden size        8", "labels             2: 0=c0 1=c1",
        "format = pt", "encoder.layer.1.output.LayerNorm.bias", "layers.1.ffn_norm.bias", "total parameters",
        "[32, 8]"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  std::ostringstream file_out;
  describe_model((dir / "model.safetensors").string(), file_out);
  EXPECT_NE(file_out.str().find("head.out.weight"), std::string::npos) << file_out.str();
  EXPECT_EQ(file_out.str().find("architecture"), std::string::npos);

  std::ostringstream none;
  EXPECT_THROW(describe_model((dir / "nope").string(), none), Error);
  EXPECT_TRUE(none.str().empty());
}

}  // namespace
}  // namespace edgeroute::modelio
