// Parity of edgeroute_train's encoders with Hugging Face transformers.
//
// ctest writes the reference first (python/hf_reference.py forward: token
// ids, attention mask, every hidden state, pooler output, classification or
// MLM logits of a batch of texts). Each case then tokenizes the same texts
// with our Tokenizer (ids must equal HF's), runs our forward on our ids, and
// compares every output within kTolerance max abs, ignoring padded positions.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <optional>
#include <string>
#include <vector>

#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/text/table.h"
#include "edgeroute/text/tokenizer.h"
#include "edgeroute/train/checkpoint.h"

namespace edgeroute::train {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-4;
// hf_reference.py forward truncates to this (capped by the positions).
constexpr std::int64_t kMaxLen = 128;

struct ParityCase {
  std::string name;     // fixture name
  std::string model;    // HF directory
  std::string texts;    // input file
};

std::string case_name(const ::testing::TestParamInfo<ParityCase>& info) {
  std::string out;
  for (const char c : info.param.name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string sci(double v) {
  std::ostringstream out;
  out << std::scientific << std::setprecision(2) << v;
  return out.str();
}

torch::Tensor tensor_of(const modelio::TensorView& view) {
  if (view.dtype == modelio::DType::kI64) {
    const auto values = view.as<std::int64_t>();
    return torch::from_blob(const_cast<std::int64_t*>(values.data()), view.shape, torch::kLong).clone();
  }
  std::vector<float> values = modelio::to_float32(view);
  return torch::from_blob(values.data(), view.shape, torch::kFloat).clone();
}

// Max |a - b| over the positions where mask [B,T] is 1 (a, b: [B,T,...]).
double masked_max_diff(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask) {
  torch::Tensor valid = mask.to(torch::kBool);
  while (valid.dim() < a.dim()) valid = valid.unsqueeze(-1);
  return (a - b).abs().masked_fill(valid.logical_not(), 0.0).max().item<double>();
}

class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, MatchesHuggingFace) {
  const ParityCase& p = GetParam();
  const fs::path fixture = fs::path(EDGEROUTE_TRAIN_FIXTURES) / (p.name + ".safetensors");
  if (!fs::exists(fs::path(p.model) / "model.safetensors")) {
    GTEST_SKIP() << "no model at " << p.model << " (run scripts/setup.sh, then ctest -L parity)";
  }
  if (!fs::exists(fixture)) {
    GTEST_SKIP() << "no Hugging Face reference at " << fixture.string()
                 << " (configure with EDGEROUTE_PYTHON and run through ctest, which writes it)";
  }
  const modelio::SafetensorsFile ref = modelio::SafetensorsFile::open(fixture.string());
  const torch::Tensor ref_ids = tensor_of(ref.at("input_ids"));
  const torch::Tensor ref_mask = tensor_of(ref.at("attention_mask"));

  LoadedModel loaded = load_model(p.model);
  EncoderModelImpl& model = *loaded.model;
  EXPECT_TRUE(loaded.report.initialized.empty()) << "initialized " << loaded.report.initialized.front();

  // Our tokenizer on the same texts gives HF's ids.
  const text::Tokenizer tokenizer = text::Tokenizer::from_pretrained(p.model);
  const text::TextTable table = text::read_table(p.texts);
  const std::vector<std::string> texts =
      table.column(text::resolve_column(table, std::nullopt, text::kTextColumnCandidates, "column"));
  const std::int64_t max_len = std::min(kMaxLen, model.config().max_position_embeddings);
  std::vector<std::vector<std::int32_t>> sequences;
  for (const std::string& t : texts) sequences.push_back(tokenizer.encode(t, max_len));
  const text::TokenBatch batch = text::pad_batch(sequences, tokenizer.pad_id());
  ASSERT_EQ(batch.rows, ref_ids.size(0));
  ASSERT_EQ(batch.cols, ref_ids.size(1));
  std::vector<std::int32_t> ids32 = batch.ids;
  std::vector<std::int32_t> mask32 = batch.attention_mask;
  const torch::Tensor ids = torch::from_blob(ids32.data(), {batch.rows, batch.cols}, torch::kInt).to(torch::kLong);
  const torch::Tensor mask = torch::from_blob(mask32.data(), {batch.rows, batch.cols}, torch::kInt).to(torch::kLong);
  for (std::int64_t r = 0; r < batch.rows; ++r) {
    ASSERT_TRUE(torch::equal(ids[r], ref_ids[r])) << "row " << r << " text \"" << texts[r] << "\"";
  }
  ASSERT_TRUE(torch::equal(mask, ref_mask));

  const bool want_pooled = ref.find("pooler_output") != nullptr;
  const torch::NoGradGuard no_grad;
  const ForwardOutput out =
      model.forward(ids, mask, {.all_hidden_states = true, .pooled = want_pooled, .head = true});

  const std::int64_t layers = model.config().num_layers;
  ASSERT_EQ(out.hidden_states.size(), static_cast<std::size_t>(layers + 1));
  double hidden_diff = 0.0;
  for (std::int64_t i = 0; i <= layers; ++i) {
    const std::string key = "hidden_states." + std::to_string(i);
    const double d = masked_max_diff(out.hidden_states[i], tensor_of(ref.at(key)), mask);
    EXPECT_LE(d, kTolerance) << key;
    hidden_diff = std::max(hidden_diff, d);
  }
  std::string summary = p.name + ": hidden_states (" + std::to_string(layers + 1) + ") " + sci(hidden_diff);
  int heads_compared = 0;
  if (want_pooled) {
    const double d = (out.pooled - tensor_of(ref.at("pooler_output"))).abs().max().item<double>();
    EXPECT_LE(d, kTolerance) << "pooler_output";
    summary += ", pooler_output " + sci(d);
    ++heads_compared;
  }
  if (ref.find("logits") != nullptr) {
    ASSERT_EQ(model.task(), Task::kSequenceClassification);
    const double d = (out.logits - tensor_of(ref.at("logits"))).abs().max().item<double>();
    EXPECT_LE(d, kTolerance) << "logits";
    summary += ", logits " + sci(d);
    ++heads_compared;
  }
  if (ref.find("mlm_logits") != nullptr) {
    ASSERT_EQ(model.task(), Task::kMaskedLm);
    const double d = masked_max_diff(out.logits, tensor_of(ref.at("mlm_logits")), mask);
    EXPECT_LE(d, kTolerance) << "mlm_logits";
    summary += ", mlm_logits " + sci(d);
    ++heads_compared;
  }
  EXPECT_GT(heads_compared, 0) << "the reference has no pooler output or logits to compare";
  std::cout << "[parity] max |ours - HF| " << summary << " (" << batch.rows << " texts, " << batch.cols
            << " tokens)\n";
  RecordProperty("max_abs_diff", summary);
}

std::vector<ParityCase> cases() {
  const std::string models = EDGEROUTE_TRAIN_MODELS;
  const std::string adversarial = EDGEROUTE_TRAIN_ADVERSARIAL;
  const std::string texts = EDGEROUTE_TRAIN_TEXTS;
  return {
      {"tiny-bert", models + "/tiny-bert", adversarial},
      {"tiny-distilbert", models + "/tiny-distilbert", adversarial},
      {"tiny-bert-mlm", models + "/tiny-bert-mlm", texts},
      {"tiny-distilbert-mlm", models + "/tiny-distilbert-mlm", texts},
      {"minilm-cls", models + "/minilm-cls", texts},
      {"minilm", EDGEROUTE_MODEL_DIR, texts},
  };
}

INSTANTIATE_TEST_SUITE_P(HuggingFace, Parity, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace edgeroute::train
