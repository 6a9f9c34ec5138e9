#include "edgeroute/modelio/hf_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "edgeroute/common/error.h"

namespace edgeroute::modelio {
namespace {

constexpr const char* kMiniLm = R"({
  "_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "architectures": ["BertModel"],
  "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02,
  "intermediate_size": 1536, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
  "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
  "position_embedding_type": "absolute", "transformers_version": "4.8.2", "type_vocab_size": 2,
  "use_cache": true, "vocab_size": 30522})";

constexpr const char* kDistilBert = R"({
  "activation": "gelu", "architectures": ["DistilBertForSequenceClassification"],
  "attention_dropout": 0.1, "dim": 768, "dropout": 0.1, "hidden_dim": 3072,
  "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
  "max_position_embeddings": 512, "model_type": "distilbert", "n_heads": 12, "n_layers": 6,
  "pad_token_id": 0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
  "sinusoidal_pos_embds": false, "vocab_size": 30522})";

void expect_error(const std::string& text, const std::string& expected) {
  try {
    (void)parse_hf_config(text, "bad/config.json");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad/config.json"), std::string::npos) << what;
    EXPECT_NE(what.find(expected), std::string::npos) << "expected '" << expected << "' in: " << what;
  }
}

TEST(HfConfig, MiniLmBert) {
  const EncoderConfig c = parse_hf_config(kMiniLm, "minilm/config.json");
  EXPECT_EQ(c.arch, Architecture::kBert);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.head_dim(), 32);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_TRUE(c.labels.empty());
  EXPECT_EQ(c.architectures, std::vector<std::string>{"BertModel"});
}

TEST(HfConfig, DistilBert) {
  const EncoderConfig c = parse_hf_config(kDistilBert, "distil/config.json");
  EXPECT_EQ(c.arch, Architecture::kDistilBert);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.type_vocab_size, 0);
  EXPECT_FALSE(c.sinusoidal_pos_embds);
  EXPECT_EQ(c.labels.size(), 2);
  EXPECT_EQ(c.labels.name(1), "POSITIVE");
}

TEST(HfConfig, DefaultsFollowTransformers) {
  const EncoderConfig bert = parse_hf_config(R"({"model_type": "bert"})", "b");
  EXPECT_EQ(bert.vocab_size, 30522);
  EXPECT_EQ(bert.hidden_size, 768);
  EXPECT_EQ(bert.num_layers, 12);
  EXPECT_EQ(bert.num_heads, 12);
  EXPECT_EQ(bert.intermediate_size, 3072);
  EXPECT_EQ(bert.max_position_embeddings, 512);
  EXPECT_EQ(bert.type_vocab_size, 2);
  EXPECT_EQ(bert.layer_norm_eps, 1e-12);
  EXPECT_EQ(bert.pad_token_id, 0);
  const EncoderConfig distil = parse_hf_config(R"({"model_type": "distilbert", "dim": 96})", "d");
  EXPECT_EQ(distil.num_layers, 6);
  EXPECT_EQ(distil.num_heads, 12);
  EXPECT_EQ(distil.hidden_size, 96);
  EXPECT_EQ(distil.intermediate_size, 4 * 96);
  EXPECT_THROW((void)parse_hf_config(R"({"model_type": "distilbert", "dim": 64, "n_heads": 5})", "d"), Error);
  const EncoderConfig distil_default = parse_hf_config(R"({"model_type": "distilbert"})", "d");
  EXPECT_EQ(distil_default.intermediate_size, 3072);
  // Old configs without model_type are recognised by their class name.
  EXPECT_EQ(parse_hf_config(R"({"architectures": ["BertForMaskedLM"]})", "old").arch, Architecture::kBert);
  EXPECT_EQ(parse_hf_config(R"({"pad_token_id": null, "model_type": "bert"})", "n").pad_token_id, -1);
}

TEST(HfConfig, BadValuesAreErrors) {
  expect_error("{", "not valid JSON");
  expect_error("[]", "not a JSON object");
  expect_error("{}", "missing 'model_type' (supported: bert, distilbert)");
  expect_error(R"({"model_type": "roberta"})", "unsupported model_type 'roberta' (supported: bert, distilbert)");
  expect_error(R"({"model_type": "bert", "hidden_size": 100, "num_attention_heads": 12})", "not divisible");
  expect_error(R"({"model_type": "bert", "hidden_size": 0})", "field 'hidden_size' is 0");
  expect_error(R"({"model_type": "bert", "vocab_size": -5})", "field 'vocab_size' is -5");
  expect_error(R"({"model_type": "bert", "vocab_size": 99999999})", "field 'vocab_size' is 99999999");
  expect_error(R"({"model_type": "bert", "vocab_size": 18446744073709551615})", "above the limit");
  expect_error(R"({"model_type": "bert", "num_hidden_layers": 257})", "num_hidden_layers");
  expect_error(R"({"model_type": "bert", "max_position_embeddings": 2000000})", "max_position_embeddings");
  expect_error(R"({"model_type": "bert", "hidden_size": "384"})", "field 'hidden_size' is \"384\", not an integer");
  expect_error(R"({"model_type": "bert", "hidden_size": 384.0})", "not an integer");
  expect_error(R"({"model_type": "bert", "hidden_act": "relu"})", "unsupported hidden_act 'relu' (supported: gelu");
  expect_error(R"({"model_type": "distilbert", "activation": "gelu_new"})", "unsupported activation 'gelu_new'");
  expect_error(R"({"model_type": "bert", "layer_norm_eps": 0})", "layer_norm_eps");
  expect_error(R"({"model_type": "bert", "layer_norm_eps": -1e-5})", "layer_norm_eps");
  expect_error(R"({"model_type": "bert", "position_embedding_type": "relative_key"})", "relative_key");
  expect_error(R"({"model_type": "bert", "type_vocab_size": 0})", "type_vocab_size");
  expect_error(R"({"model_type": "bert", "pad_token_id": 30522})", "pad_token_id");
  expect_error(R"({"model_type": "distilbert", "sinusoidal_pos_embds": 1})", "sinusoidal_pos_embds");
  expect_error(R"({"model_type": "bert", "architectures": "BertModel"})", "architectures");
  expect_error(R"({"model_type": "bert", "id2label": {"1": "a"}})", "id2label key '1'");
}

TEST(HfConfig, ToHfJsonRoundTripsAndKeepsUnknownFields) {
  for (const char* text : {kMiniLm, kDistilBert}) {
    const EncoderConfig c = parse_hf_config(text, "in");
    const nlohmann::json out = to_hf_json(c);
    const EncoderConfig back = parse_hf_config(out.dump(), "out");
    EXPECT_EQ(back.arch, c.arch);
    EXPECT_EQ(back.hidden_size, c.hidden_size);
    EXPECT_EQ(back.num_layers, c.num_layers);
    EXPECT_EQ(back.num_heads, c.num_heads);
    EXPECT_EQ(back.intermediate_size, c.intermediate_size);
    EXPECT_EQ(back.vocab_size, c.vocab_size);
    EXPECT_EQ(back.labels, c.labels);
    EXPECT_EQ(out, nlohmann::json::parse(text));  // nothing changed, nothing lost
  }
  EncoderConfig c = parse_hf_config(R"({"model_type": "distilbert", "custom": {"x": 1}})", "in");
  c.num_layers = 3;
  c.labels = LabelMap::from_labels({"a", "b", "c"});
  const nlohmann::json out = to_hf_json(c);
  EXPECT_EQ(out["n_layers"], 3);
  EXPECT_EQ(out["dim"], 768);
  EXPECT_FALSE(out.contains("hidden_size"));
  EXPECT_EQ(out["custom"]["x"], 1);
  EXPECT_EQ(out["id2label"]["2"], "c");
  EXPECT_EQ(out["label2id"]["b"], 1);
  c.labels = LabelMap();
  EXPECT_FALSE(to_hf_json(c).contains("id2label"));
}

TEST(HfConfig, LoadFromDirectory) {
  const std::filesystem::path dir = std::filesystem::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / "config_dir";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << kDistilBert;
  EXPECT_EQ(load_hf_config(dir.string()).arch, Architecture::kDistilBert);
  EXPECT_EQ(load_hf_config((dir / "config.json").string()).num_layers, 6);
  EXPECT_THROW((void)load_hf_config((dir / "missing.json").string()), Error);
}

}  // namespace
}  // namespace edgeroute::modelio
