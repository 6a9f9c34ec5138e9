// Unit tests of the encoder modules (shapes, names, masking, dropout, init).
// Numerical parity with Hugging Face is in parity_test.cc.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <string>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/tensor_names.h"
#include "edgeroute/train/modules.h"
#include "test_models.h"

namespace edgeroute::train {
namespace {

using modelio::Architecture;
using testing::tiny_config;
using testing::tiny_model;

struct Variant {
  Architecture arch;
  Task task;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  std::string name = info.param.arch == Architecture::kBert ? "Bert" : "DistilBert";
  switch (info.param.task) {
    case Task::kEncoder: return name + "Encoder";
    case Task::kMaskedLm: return name + "MaskedLm";
    case Task::kSequenceClassification: return name + "Classifier";
  }
  return name;
}

class ModulesTest : public ::testing::TestWithParam<Variant> {
 protected:
  modelio::EncoderConfig config() const {
    return tiny_config(GetParam().arch, GetParam().task == Task::kSequenceClassification ? 3 : 0);
  }
};

// Parameter names are the canonical tensor names of modelio, with the shapes
// expected_tensors() lists: loading and saving depend on it.
TEST_P(ModulesTest, ParametersAreTheCanonicalTensors) {
  const modelio::EncoderConfig c = config();
  const Task task = GetParam().task;
  const EncoderModel model = tiny_model(c, task, /*with_pooler=*/true, 1);
  std::map<std::string, std::vector<std::int64_t>> expected;
  const modelio::Heads heads{.pooler = task != Task::kMaskedLm,
                             .classifier = task == Task::kSequenceClassification,
                             .mlm = task == Task::kMaskedLm};
  for (const modelio::TensorSpec& spec : modelio::expected_tensors(c, heads)) {
    if (spec.canonical != "mlm.decoder.weight") expected[spec.canonical] = spec.shape;  // tied
  }
  std::map<std::string, std::vector<std::int64_t>> actual;
  for (const auto& item : model->named_parameters()) actual[item.key()] = item.value().sizes().vec();
  EXPECT_EQ(actual, expected);
}

TEST_P(ModulesTest, OutputShapes) {
  const modelio::EncoderConfig c = config();
  EncoderModel model = tiny_model(c, GetParam().task, true, 2);
  const torch::Tensor ids = torch::randint(1, c.vocab_size, {3, 7}, torch::kLong);
  const torch::Tensor mask = torch::ones({3, 7}, torch::kLong);
  const ForwardOutput out =
      model->forward(ids, mask, {.all_hidden_states = true, .pooled = model->has_pooler(), .head = true});
  ASSERT_EQ(out.hidden_states.size(), static_cast<std::size_t>(c.num_layers + 1));
  for (const torch::Tensor& h : out.hidden_states) EXPECT_EQ(h.sizes().vec(), (std::vector<std::int64_t>{3, 7, 16}));
  EXPECT_TRUE(torch::equal(out.hidden_states.back(), out.last_hidden));
  if (model->has_pooler()) {
    EXPECT_EQ(out.pooled.sizes().vec(), (std::vector<std::int64_t>{3, 16}));
  }
  switch (GetParam().task) {
    case Task::kEncoder: EXPECT_FALSE(out.logits.defined()); break;
    case Task::kMaskedLm: EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{3, 7, 40})); break;
    case Task::kSequenceClassification:
      EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{3, 3}));
      break;
  }
}

// Padding must not change what real tokens see: the same sequence alone and
// padded (with arbitrary ids in the padding) gives the same outputs.
TEST_P(ModulesTest, PaddingIsMaskedOut) {
  const modelio::EncoderConfig c = config();
  EncoderModel model = tiny_model(c, GetParam().task, true, 3);
  const torch::Tensor ids = torch::tensor({{2, 9, 14, 21, 3}}, torch::kLong);
  const torch::Tensor padded_ids = torch::tensor({{2, 9, 14, 21, 3, 0, 17, 33, 5}}, torch::kLong);
  const torch::Tensor mask = torch::ones({1, 5}, torch::kLong);
  const torch::Tensor padded_mask = torch::tensor({{1, 1, 1, 1, 1, 0, 0, 0, 0}}, torch::kLong);
  const torch::NoGradGuard no_grad;
  const ForwardOutput a = model->forward(ids, mask);
  const ForwardOutput b = model->forward(padded_ids, padded_mask);
  EXPECT_TRUE(torch::allclose(a.last_hidden, b.last_hidden.slice(1, 0, 5), 1e-6, 1e-6));
  if (GetParam().task == Task::kSequenceClassification) {
    EXPECT_TRUE(torch::allclose(a.logits, b.logits, 1e-6, 1e-6));
  }
  if (GetParam().task == Task::kMaskedLm) {
    EXPECT_TRUE(torch::allclose(a.logits, b.logits.slice(1, 0, 5), 1e-6, 1e-6));
  }
}

// Dropout is inactive in eval() (the state load_model returns) and active in train().
TEST_P(ModulesTest, DropoutOnlyInTraining) {
  const modelio::EncoderConfig c = config();
  EncoderModel model = tiny_model(c, GetParam().task, true, 4);
  const torch::Tensor ids = torch::randint(1, c.vocab_size, {2, 6}, torch::kLong);
  const torch::Tensor mask = torch::ones({2, 6}, torch::kLong);
  const torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->forward(ids, mask).last_hidden, model->forward(ids, mask).last_hidden));
  model->train();
  EXPECT_FALSE(torch::equal(model->forward(ids, mask).last_hidden, model->forward(ids, mask).last_hidden));
}

// Backpropagation reaches every parameter (the tied decoder feeds the word
// embeddings); the pad row of the word embeddings gets none (padding_idx).
TEST_P(ModulesTest, GradientsReachEveryParameter) {
  const modelio::EncoderConfig c = config();
  EncoderModel model = tiny_model(c, GetParam().task, true, 5);
  model->train();
  const torch::Tensor ids = torch::tensor({{2, 9, 14, 3, 0}, {2, 21, 3, 0, 0}}, torch::kLong);
  const torch::Tensor mask = (ids != 0).to(torch::kLong);
  const ForwardOutput out = model->forward(ids, mask, {.pooled = model->has_pooler()});
  torch::Tensor loss = out.last_hidden.pow(2).mean();
  if (out.logits.defined()) loss = loss + out.logits.pow(2).mean();
  if (out.pooled.defined()) loss = loss + out.pooled.pow(2).mean();
  loss.backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
  }
  // The tied MLM decoder scores the pad id too, so only other tasks leave its row alone.
  if (GetParam().task != Task::kMaskedLm) {
    EXPECT_EQ(model->embeddings->word->weight.grad()[0].abs().sum().item<double>(), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(All, ModulesTest,
                         ::testing::Values(Variant{Architecture::kBert, Task::kEncoder},
                                           Variant{Architecture::kBert, Task::kMaskedLm},
                                           Variant{Architecture::kBert, Task::kSequenceClassification},
                                           Variant{Architecture::kDistilBert, Task::kEncoder},
                                           Variant{Architecture::kDistilBert, Task::kMaskedLm},
                                           Variant{Architecture::kDistilBert, Task::kSequenceClassification}),
                         variant_name);

TEST(Modules, InitialisationIsSeededAndFollowsHuggingFace) {
  const modelio::EncoderConfig c = tiny_config(Architecture::kBert, 2);
  const EncoderModel a = tiny_model(c, Task::kSequenceClassification, true, 7);
  const EncoderModel b = tiny_model(c, Task::kSequenceClassification, true, 7);
  const EncoderModel other = tiny_model(c, Task::kSequenceClassification, true, 8);
  const auto pa = a->named_parameters();
  const auto pb = b->named_parameters();
  const auto po = other->named_parameters();
  for (const auto& item : pa) {
    const std::string& name = item.key();
    EXPECT_TRUE(torch::equal(item.value(), pb[name])) << name;
    if (name.ends_with("norm.weight")) {
      EXPECT_TRUE(torch::equal(item.value(), torch::ones_like(item.value()))) << name;
    } else if (name.ends_with("bias")) {
      EXPECT_TRUE(torch::equal(item.value(), torch::zeros_like(item.value()))) << name;
    } else {
      EXPECT_FALSE(torch::equal(item.value(), po[name])) << name;
    }
  }
  EXPECT_TRUE(torch::equal(pa["embeddings.word.weight"][0], torch::zeros({16})));
  // normal(0, 0.02): the sample std of the 40x16 word embeddings is close to 0.02.
  EXPECT_NEAR(pa["embeddings.word.weight"].std().item<double>(), 0.02, 0.003);
}

TEST(Modules, HyperConfigFromConfigJson) {
  modelio::EncoderConfig c = tiny_config(Architecture::kBert);
  EXPECT_DOUBLE_EQ(read_train_hyper_config(c).classifier_dropout, 0.1);
  c.raw["hidden_dropout_prob"] = 0.25;
  c.raw["classifier_dropout"] = nullptr;
  EXPECT_DOUBLE_EQ(read_train_hyper_config(c).classifier_dropout, 0.25);
  c.raw["attention_probs_dropout_prob"] = 1.5;
  EXPECT_THROW(read_train_hyper_config(c), Error);
  c.raw["attention_probs_dropout_prob"] = "0.1";
  EXPECT_THROW(read_train_hyper_config(c), Error);
  const modelio::EncoderConfig d = tiny_config(Architecture::kDistilBert);
  EXPECT_DOUBLE_EQ(read_train_hyper_config(d).classifier_dropout, 0.2);
}

TEST(Modules, RejectsBadInputs) {
  const modelio::EncoderConfig c = tiny_config(Architecture::kBert);
  EncoderModel model = tiny_model(c, Task::kEncoder, false, 9);
  const torch::Tensor long_ids = torch::ones({1, 13}, torch::kLong);  // 12 positions
  EXPECT_THROW(model->forward(long_ids, torch::ones({1, 13}, torch::kLong)), Error);
  EXPECT_THROW(model->forward(torch::ones({1, 4}, torch::kLong), torch::ones({1, 5}, torch::kLong)), Error);
  const torch::Tensor hidden = torch::zeros({1, 4, 16});
  EXPECT_THROW(model->pool(hidden), Error);
  EXPECT_THROW(model->classify(hidden), Error);
  EXPECT_THROW(model->mlm_logits(hidden), Error);
  EXPECT_THROW(tiny_model(c, Task::kSequenceClassification, true, 1), Error);  // no labels
}

}  // namespace
}  // namespace edgeroute::train
