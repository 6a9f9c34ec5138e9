// Unit tests of load_model / save_model on checkpoints the tests write.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/dtype.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/train/checkpoint.h"
#include "test_models.h"

namespace edgeroute::train {
namespace {

namespace fs = std::filesystem;
using modelio::Architecture;
using testing::test_dir;
using testing::tiny_config;
using testing::tiny_model;

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Names in `dir` other than `keep`: leftovers of a save.
std::vector<std::string> siblings(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_same_parameters(EncoderModelImpl& a, EncoderModelImpl& b) {
  const auto pa = a.named_parameters();
  const auto pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    ASSERT_TRUE(pb.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
}

torch::Tensor sample_ids() { return torch::tensor({{2, 9, 14, 21, 3}, {2, 7, 3, 0, 0}}, torch::kLong); }

struct SaveCase {
  Architecture arch;
  Task task;
  const char* hf_class;
  const char* word_name;  // HF name of the word embeddings in the saved file
};

class SaveLoadTest : public ::testing::TestWithParam<SaveCase> {};

TEST_P(SaveLoadTest, RoundTripKeepsEverything) {
  const SaveCase& p = GetParam();
  const modelio::EncoderConfig c = tiny_config(p.arch, p.task == Task::kSequenceClassification ? 3 : 0);
  EncoderModel model = tiny_model(c, p.task, true, 11);
  const fs::path dir = test_dir(std::string("roundtrip_") + p.hf_class);
  std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  std::ofstream(dir / "tokenizer_config.json") << R"({"do_lower_case": true})";
  const fs::path out = dir / "saved";
  save_model(*model, out.string(), {.tokenizer_dir = dir.string()});

  EXPECT_EQ(siblings(dir), (std::vector<std::string>{"saved", "tokenizer_config.json", "vocab.txt"}));
  EXPECT_EQ(siblings(out), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer_config.json",
                                                      "vocab.txt"}));
  const nlohmann::json config = read_json(out / "config.json");
  EXPECT_EQ(config["architectures"], nlohmann::json::array({p.hf_class}));
  EXPECT_EQ(config.contains("id2label"), p.task == Task::kSequenceClassification);
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open((out / "model.safetensors").string());
  EXPECT_NE(file.find(p.word_name), nullptr);
  EXPECT_EQ(file.metadata().at("format"), "pt");

  LoadedModel loaded = load_model(out.string());
  EXPECT_EQ(loaded.model->task(), p.task);
  EXPECT_TRUE(loaded.report.initialized.empty());
  EXPECT_TRUE(loaded.report.unused.empty());
  EXPECT_EQ(loaded.model->config().labels, c.labels);
  expect_same_parameters(*model, *loaded.model);
  const torch::Tensor ids = sample_ids();
  const torch::Tensor mask = (ids != 0).to(torch::kLong);
  const torch::NoGradGuard no_grad;
  const ForwardOutput a = model->forward(ids, mask);
  const ForwardOutput b = loaded.model->forward(ids, mask);
  EXPECT_TRUE(torch::equal(a.last_hidden, b.last_hidden));
  if (a.logits.defined()) {
    EXPECT_TRUE(torch::equal(a.logits, b.logits));
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, SaveLoadTest,
    ::testing::Values(
        SaveCase{Architecture::kBert, Task::kEncoder, "BertModel", "embeddings.word_embeddings.weight"},
        SaveCase{Architecture::kBert, Task::kMaskedLm, "BertForMaskedLM", "bert.embeddings.word_embeddings.weight"},
        SaveCase{Architecture::kBert, Task::kSequenceClassification, "BertForSequenceClassification",
                 "bert.embeddings.word_embeddings.weight"},
        SaveCase{Architecture::kDistilBert, Task::kEncoder, "DistilBertModel", "embeddings.word_embeddings.weight"},
        SaveCase{Architecture::kDistilBert, Task::kMaskedLm, "DistilBertForMaskedLM",
                 "distilbert.embeddings.word_embeddings.weight"},
        SaveCase{Architecture::kDistilBert, Task::kSequenceClassification, "DistilBertForSequenceClassification",
                 "distilbert.embeddings.word_embeddings.weight"}),
    [](const ::testing::TestParamInfo<SaveCase>& param_info) { return std::string(param_info.param.hf_class); });

// A BERT encoder saved without a pooler, reloaded for the other tasks.
class HeadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    EncoderModel encoder = tiny_model(tiny_config(Architecture::kBert, 0), Task::kEncoder, false, 21);
    save_model(*encoder, (fs::path(dir_) / "encoder").string());
    encoder_ = encoder;
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string dir_;
  EncoderModel encoder_{nullptr};
};

TEST_F(HeadsTest, MissingHeadsAreInitialisedAndReported) {
  LoadedModel mlm = load_model(path("encoder"), {.task = Task::kMaskedLm, .seed = 5});
  std::vector<std::string> initialized = mlm.report.initialized;
  std::sort(initialized.begin(), initialized.end());
  EXPECT_EQ(initialized, (std::vector<std::string>{"mlm.bias", "mlm.norm.bias", "mlm.norm.weight",
                                                   "mlm.transform.bias", "mlm.transform.weight"}));
  EXPECT_TRUE(torch::equal(mlm.model->embeddings->word->weight, encoder_->embeddings->word->weight));
  EXPECT_TRUE(torch::equal(mlm.model->mlm->norm->weight, torch::ones({16})));
  // Same seed, same head.
  LoadedModel again = load_model(path("encoder"), {.task = Task::kMaskedLm, .seed = 5});
  EXPECT_TRUE(torch::equal(mlm.model->mlm->transform->weight, again.model->mlm->transform->weight));

  EXPECT_THROW(load_model(path("encoder"), {.task = Task::kSequenceClassification}), Error);  // no labels
  LoadedModel cls = load_model(path("encoder"), {.task = Task::kSequenceClassification,
                                                 .labels = modelio::LabelMap::from_labels({"a", "b"})});
  EXPECT_EQ(cls.report.initialized,
            (std::vector<std::string>{"pooler.weight", "pooler.bias", "head.out.weight", "head.out.bias"}));
  EXPECT_EQ(cls.model->head->out->weight.size(0), 2);
}

TEST_F(HeadsTest, OtherHeadsAreReportedUnusedAndNewLabelsReplaceTheClassifier) {
  LoadedModel cls = load_model(path("encoder"), {.task = Task::kSequenceClassification,
                                                 .labels = modelio::LabelMap::from_labels({"a", "b", "c"})});
  save_model(*cls.model, path("cls"));
  LoadedModel as_encoder = load_model(path("cls"), {.task = Task::kEncoder});
  EXPECT_EQ(as_encoder.report.unused, (std::vector<std::string>{"head.out.bias", "head.out.weight"}));
  EXPECT_TRUE(as_encoder.model->has_pooler());
  // BertForMaskedLM has no pooler, as in HF: it is reported unused, not kept.
  LoadedModel as_mlm = load_model(path("cls"), {.task = Task::kMaskedLm});
  EXPECT_FALSE(as_mlm.model->has_pooler());
  EXPECT_EQ(as_mlm.report.unused,
            (std::vector<std::string>{"head.out.bias", "head.out.weight", "pooler.bias", "pooler.weight"}));

  LoadedModel same = load_model(path("cls"), {.labels = modelio::LabelMap::from_labels({"a", "b", "c"})});
  EXPECT_TRUE(same.report.initialized.empty());
  LoadedModel relabeled = load_model(path("cls"), {.labels = modelio::LabelMap::from_labels({"x", "y"})});
  EXPECT_EQ(relabeled.report.initialized, (std::vector<std::string>{"head.out.weight", "head.out.bias"}));
  EXPECT_EQ(relabeled.model->config().labels.names(), (std::vector<std::string>{"x", "y"}));
}

// Half-precision checkpoints load as float32.
TEST_F(HeadsTest, LoadsF16AndBf16) {
  const modelio::SafetensorsFile f32 = modelio::SafetensorsFile::open(path("encoder/model.safetensors"));
  for (const modelio::DType dtype : {modelio::DType::kF16, modelio::DType::kBF16}) {
    modelio::SafetensorsWriter writer;
    for (const modelio::TensorView& t : f32.tensors()) {
      std::vector<std::uint16_t> bits;
      for (const float v : t.as<float>()) {
        bits.push_back(dtype == modelio::DType::kF16 ? modelio::float_to_half(v) : modelio::float_to_bf16(v));
      }
      writer.add(t.name, dtype, t.shape, std::span<const std::uint16_t>(bits));
    }
    const std::string dir = path(std::string("half_") + std::string(modelio::dtype_name(dtype)));
    fs::create_directories(dir);
    fs::copy_file(path("encoder/config.json"), fs::path(dir) / "config.json");
    writer.write((fs::path(dir) / "model.safetensors").string());
    LoadedModel loaded = load_model(dir);
    const torch::Tensor w = loaded.model->layers->ptr<EncoderLayerImpl>(0)->attn->q->weight;
    EXPECT_EQ(w.scalar_type(), torch::kFloat);
    const torch::Tensor ref = encoder_->layers->ptr<EncoderLayerImpl>(0)->attn->q->weight;
    EXPECT_TRUE(torch::allclose(w, ref, 1e-2, 1e-3)) << modelio::dtype_name(dtype);
  }
}

TEST_F(HeadsTest, TiedDecoderMustEqualTheWordEmbeddings) {
  LoadedModel mlm = load_model(path("encoder"), {.task = Task::kMaskedLm});
  save_model(*mlm.model, path("mlm"));
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(path("mlm/model.safetensors"));
  const auto write_with_decoder = [&](const std::string& dir, float delta) {
    modelio::SafetensorsWriter writer;
    for (const modelio::TensorView& t : file.tensors()) writer.add(t.name, t.dtype, t.shape, t.data);
    std::vector<float> word(file.at("bert.embeddings.word_embeddings.weight").as<float>().begin(),
                            file.at("bert.embeddings.word_embeddings.weight").as<float>().end());
    word[5] += delta;
    writer.add<float>("cls.predictions.decoder.weight", {40, 16}, std::span<const float>(word));
    fs::create_directories(dir);
    fs::copy_file(path("mlm/config.json"), fs::path(dir) / "config.json");
    writer.write((fs::path(dir) / "model.safetensors").string());
  };
  write_with_decoder(path("tied"), 0.0f);
  EXPECT_NO_THROW(load_model(path("tied")));
  write_with_decoder(path("untied"), 0.5f);
  try {
    load_model(path("untied"));
    ADD_FAILURE() << "an untied decoder was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cls.predictions.decoder.weight"), std::string::npos) << e.what();
  }
}

TEST_F(HeadsTest, BadDirectoriesAreErrorsNamingTheFile) {
  EXPECT_THROW(load_model(path("absent")), Error);
  fs::create_directories(path("no_weights"));
  fs::copy_file(path("encoder/config.json"), path("no_weights/config.json"));
  try {
    load_model(path("no_weights"));
    ADD_FAILURE() << "loaded without weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  // A missing encoder tensor.
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(path("encoder/model.safetensors"));
  modelio::SafetensorsWriter writer;
  for (const modelio::TensorView& t : file.tensors()) {
    if (t.name != "encoder.layer.1.output.dense.bias") writer.add(t.name, t.dtype, t.shape, t.data);
  }
  fs::create_directories(path("partial"));
  fs::copy_file(path("encoder/config.json"), path("partial/config.json"));
  writer.write(path("partial/model.safetensors"));
  try {
    load_model(path("partial"));
    ADD_FAILURE() << "loaded a checkpoint with a missing tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.1.output.dense.bias"), std::string::npos) << e.what();
  }
}

TEST_F(HeadsTest, SaveRefusesAnExistingDirectoryUnlessOverwrite) {
  EXPECT_THROW(save_model(*encoder_, path("encoder")), Error);
  std::ofstream(path("encoder/stale.txt")) << "old";
  LoadedModel mlm = load_model(path("encoder"), {.task = Task::kMaskedLm});
  save_model(*mlm.model, path("encoder"), {.overwrite = true});
  EXPECT_FALSE(fs::exists(path("encoder/stale.txt")));
  EXPECT_EQ(read_json(path("encoder/config.json"))["architectures"][0], "BertForMaskedLM");
  EXPECT_EQ(siblings(dir_), (std::vector<std::string>{"encoder"}));
  std::ofstream(path("file")) << "x";
  EXPECT_THROW(save_model(*encoder_, path("file"), {.overwrite = true}), Error);
  EXPECT_THROW(save_model(*encoder_, path("file/sub")), Error);
}

// A save that fails half-way leaves neither OUT nor a temporary directory,
// and an existing OUT untouched.
TEST_F(HeadsTest, FailedSaveLeavesNothingBehind) {
  EncoderModel broken = tiny_model(tiny_config(Architecture::kBert, 0), Task::kEncoder, false, 1);
  // No Hugging Face name exists for it: save fails after config.json is written.
  broken->register_parameter("not_a_tensor", torch::zeros({2}));
  EXPECT_THROW(save_model(*broken, path("out")), Error);
  EXPECT_EQ(siblings(dir_), (std::vector<std::string>{"encoder"}));
  const std::string before = read_json(path("encoder/config.json")).dump();
  EXPECT_THROW(save_model(*broken, path("encoder"), {.overwrite = true}), Error);
  EXPECT_EQ(siblings(dir_), (std::vector<std::string>{"encoder"}));
  EXPECT_EQ(read_json(path("encoder/config.json")).dump(), before);
  EXPECT_NO_THROW(load_model(path("encoder")));
}

}  // namespace
}  // namespace edgeroute::train
