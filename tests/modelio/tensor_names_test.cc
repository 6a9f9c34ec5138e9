#include "edgeroute/modelio/tensor_names.h"

#include <gtest/gtest.h>

#include <set>

#include "tiny_models.h"

namespace edgeroute::modelio {
namespace {

using testing::tiny_config;
using testing::tiny_tensors;
using testing::tiny_writer;
using testing::TinyTensor;

constexpr Heads kAllHeads{.pooler = true, .classifier = true, .mlm = true};

std::string check_message(const EncoderConfig& config, const std::vector<TinyTensor>& tensors, Heads heads) {
  const SafetensorsFile file = SafetensorsFile::from_bytes(tiny_writer(tensors).serialize(), "tiny.safetensors");
  try {
    check_tensors(config, file, heads);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TensorNames, EveryNameMapsBothWaysForBothArchitectures) {
  for (const Architecture arch : {Architecture::kBert, Architecture::kDistilBert}) {
    const EncoderConfig config = tiny_config(arch, 3);
    const std::string prefix = arch == Architecture::kBert ? "bert." : "distilbert.";
    for (const std::string& p : {std::string(), prefix}) {
      std::set<std::string> hf_names;
      for (const TensorSpec& spec : expected_tensors(config, kAllHeads)) {
        const std::string hf = to_hf(arch, spec.canonical, p);
        EXPECT_TRUE(hf_names.insert(hf).second) << hf;
        EXPECT_EQ(to_canonical(arch, hf), spec.canonical) << hf;
      }
    }
  }
}

TEST(TensorNames, KnownNames) {
  const auto bert = Architecture::kBert;
  const auto distil = Architecture::kDistilBert;
  EXPECT_EQ(to_canonical(bert, "embeddings.word_embeddings.weight"), "embeddings.word.weight");
  EXPECT_EQ(to_canonical(bert, "bert.encoder.layer.11.attention.self.key.bias"), "layers.11.attn.k.bias");
  EXPECT_EQ(to_canonical(bert, "encoder.layer.3.intermediate.dense.weight"), "layers.3.ffn.up.weight");
  EXPECT_EQ(to_canonical(bert, "encoder.layer.3.output.dense.bias"), "layers.3.ffn.down.bias");
  EXPECT_EQ(to_canonical(bert, "encoder.layer.0.output.LayerNorm.gamma"), "layers.0.ffn_norm.weight");
  EXPECT_EQ(to_canonical(bert, "bert.embeddings.LayerNorm.beta"), "embeddings.norm.bias");
  EXPECT_EQ(to_canonical(bert, "cls.predictions.decoder.bias"), "mlm.bias");
  EXPECT_EQ(to_canonical(bert, "cls.predictions.bias"), "mlm.bias");
  EXPECT_EQ(to_canonical(bert, "bert.pooler.dense.weight"), "pooler.weight");
  EXPECT_EQ(to_canonical(bert, "classifier.bias"), "head.out.bias");
  EXPECT_EQ(to_canonical(distil, "distilbert.transformer.layer.5.attention.out_lin.weight"), "layers.5.attn.o.weight");
  EXPECT_EQ(to_canonical(distil, "transformer.layer.0.sa_layer_norm.bias"), "layers.0.attn_norm.bias");
  EXPECT_EQ(to_canonical(distil, "pre_classifier.weight"), "head.pre.weight");
  EXPECT_EQ(to_canonical(distil, "vocab_projector.bias"), "mlm.bias");
  EXPECT_EQ(to_canonical(distil, "vocab_projector.weight"), "mlm.decoder.weight");
  // Heads never take the prefix; malformed layer indices do not match.
  EXPECT_FALSE(to_canonical(bert, "bert.classifier.weight").has_value());
  EXPECT_FALSE(to_canonical(bert, "encoder.layer.01.output.dense.bias").has_value());
  EXPECT_FALSE(to_canonical(bert, "encoder.layer.x.output.dense.bias").has_value());
  EXPECT_FALSE(to_canonical(bert, "encoder.layer..output.dense.bias").has_value());
  EXPECT_FALSE(to_canonical(bert, "distilbert.embeddings.word_embeddings.weight").has_value());
  EXPECT_FALSE(to_canonical(distil, "encoder.layer.0.output.dense.bias").has_value());
  EXPECT_FALSE(to_canonical(bert, "embeddings.position_ids").has_value());
  EXPECT_TRUE(is_ignored_tensor(bert, "embeddings.position_ids"));
  EXPECT_TRUE(is_ignored_tensor(bert, "bert.embeddings.token_type_ids"));
  EXPECT_TRUE(is_ignored_tensor(distil, "distilbert.embeddings.position_ids"));
  EXPECT_FALSE(is_ignored_tensor(bert, "embeddings.word_embeddings.weight"));
  EXPECT_EQ(to_hf(bert, "mlm.bias", ""), "cls.predictions.bias");
  EXPECT_EQ(to_hf(bert, "layers.2.attn.v.weight", "bert"), "bert.encoder.layer.2.attention.self.value.weight");
  EXPECT_EQ(to_hf(bert, "head.out.weight", "bert."), "classifier.weight");
  EXPECT_THROW((void)to_hf(bert, "head.pre.weight", ""), Error);
  EXPECT_THROW((void)to_hf(distil, "embeddings.token_type.weight", ""), Error);
}

TEST(TensorNames, ExpectedTensorShapes) {
  const EncoderConfig config = tiny_config(Architecture::kBert, 3);
  const std::vector<TensorSpec> specs = expected_tensors(config, kAllHeads);
  const auto shape_of = [&](const std::string& name) {
    for (const TensorSpec& s : specs) {
      if (s.canonical == name) return s.shape;
    }
    return std::vector<std::int64_t>{-1};
  };
  EXPECT_EQ(shape_of("embeddings.word.weight"), (std::vector<std::int64_t>{32, 8}));
  EXPECT_EQ(shape_of("embeddings.token_type.weight"), (std::vector<std::int64_t>{2, 8}));
  EXPECT_EQ(shape_of("layers.1.ffn.up.weight"), (std::vector<std::int64_t>{16, 8}));
  EXPECT_EQ(shape_of("layers.1.ffn.down.weight"), (std::vector<std::int64_t>{8, 16}));
  EXPECT_EQ(shape_of("head.out.weight"), (std::vector<std::int64_t>{3, 8}));
  EXPECT_EQ(shape_of("mlm.bias"), (std::vector<std::int64_t>{32}));
  EXPECT_EQ(shape_of("layers.2.attn.q.weight"), (std::vector<std::int64_t>{-1}));  // 2 layers only
  // 5 embedding tensors + 16 per layer + 2 pooler + 2 classifier + 6 mlm.
  EXPECT_EQ(specs.size(), 5u + 16u * 2u + 2u + 2u + 6u);
  EXPECT_THROW((void)expected_tensors(tiny_config(Architecture::kBert, 0), Heads{.classifier = true}), Error);
}

TEST(TensorNames, CheckTensorsAcceptsCompleteTinyCheckpoints) {
  for (const Architecture arch : {Architecture::kBert, Architecture::kDistilBert}) {
    const EncoderConfig config = tiny_config(arch, 2);
    for (const std::string prefix : {"", arch == Architecture::kBert ? "bert." : "distilbert."}) {
      EXPECT_EQ(check_message(config, tiny_tensors(config, kAllHeads, prefix), kAllHeads), "") << prefix;
      // Encoder only, plus an ignored buffer.
      std::vector<TinyTensor> tensors = tiny_tensors(config, Heads{}, prefix);
      tensors.push_back({prefix + "embeddings.position_ids", {1, 16}, DType::kI64});
      EXPECT_EQ(check_message(config, tensors, Heads{}), "");
    }
    // The tied decoder weight may be absent.
    std::vector<TinyTensor> untied;
    for (const TinyTensor& t : tiny_tensors(config, kAllHeads, "")) {
      if (to_canonical(arch, t.hf_name) != "mlm.decoder.weight") untied.push_back(t);
    }
    EXPECT_EQ(check_message(config, untied, kAllHeads), "");
  }
}

TEST(TensorNames, CheckTensorsNamesEveryProblem) {
  const EncoderConfig config = tiny_config(Architecture::kBert, 2);
  const Heads heads{.pooler = true, .classifier = true};
  std::vector<TinyTensor> tensors = tiny_tensors(config, heads, "bert.");
  std::vector<TinyTensor> broken;
  for (TinyTensor t : tensors) {
    if (t.hf_name == "bert.encoder.layer.1.attention.self.key.weight") continue;           // missing
    if (t.hf_name == "bert.encoder.layer.0.intermediate.dense.weight") t.shape = {8, 16};  // transposed
    if (t.hf_name == "classifier.bias") t.dtype = DType::kI32;                             // not float
    broken.push_back(t);
  }
  broken.push_back({"bert.encoder.layer.0.attention.self.query.lora_A", {2, 8}, DType::kF32});  // unknown
  broken.push_back({"bert.encoder.layer.2.output.dense.bias", {8}, DType::kF32});               // past the layers
  const std::string message = check_message(config, broken, heads);
  EXPECT_NE(message.find("tiny.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("5 problems"), std::string::npos) << message;
  EXPECT_NE(message.find("missing tensor 'bert.encoder.layer.1.attention.self.key.weight' (layers.1.attn.k.weight)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("'bert.encoder.layer.0.intermediate.dense.weight' (layers.0.ffn.up.weight) has shape "
                         "[8, 16], expected [16, 8]"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("'classifier.bias' (head.out.bias) has dtype I32"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown tensor 'bert.encoder.layer.0.attention.self.query.lora_A'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("belongs to layer 2 but the config has 2 layers"), std::string::npos) << message;
}

TEST(TensorNames, CheckTensorsRejectsMixedPrefixesAndConflictingAliases) {
  const EncoderConfig config = tiny_config(Architecture::kBert, 0);
  std::vector<TinyTensor> mixed = tiny_tensors(config, Heads{}, "bert.");
  mixed[3].hf_name = mixed[3].hf_name.substr(5);
  EXPECT_NE(check_message(config, mixed, Heads{}).find("mix the prefix"), std::string::npos);

  std::vector<TinyTensor> aliases = tiny_tensors(config, Heads{.mlm = true}, "");
  aliases.push_back({"cls.predictions.decoder.bias", {32}, DType::kF32});  // differs from cls.predictions.bias
  EXPECT_NE(check_message(config, aliases, Heads{.mlm = true}).find("both map to 'mlm.bias'"), std::string::npos);
}

TEST(TensorNames, CanonicalTensors) {
  const EncoderConfig config = tiny_config(Architecture::kDistilBert, 2);
  const SafetensorsFile file = SafetensorsFile::from_bytes(
      tiny_writer(tiny_tensors(config, kAllHeads, "distilbert.")).serialize(), "d.safetensors");
  EXPECT_EQ(detect_prefix(Architecture::kDistilBert, file), "distilbert.");
  const auto map = canonical_tensors(Architecture::kDistilBert, file);
  ASSERT_TRUE(map.count("layers.1.ffn.down.weight"));
  EXPECT_EQ(map.at("layers.1.ffn.down.weight")->name, "distilbert.transformer.layer.1.ffn.lin2.weight");
  EXPECT_THROW((void)canonical_tensors(Architecture::kBert, file), Error);  // wrong architecture
}

}  // namespace
}  // namespace edgeroute::modelio
