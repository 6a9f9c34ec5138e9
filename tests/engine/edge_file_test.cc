// The .edge file: written by compress, read back by the runtime with results
// identical to quantizing the checkpoint in memory (int8 and 4-bit groups,
// trimmed vocabularies); corrupt, truncated and future-version files are
// refused with clear errors; the accuracy-budget fallback moves groups up
// (int4 -> int8 -> FP32) until the budget holds. Uses the tiny BERT generated
// by the ctest fixture engine_models (skips when absent); the 4-bit layout
// and the script rule need no model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/classifier.h"
#include "edgeroute/engine/compress.h"
#include "edgeroute/engine/edge_file.h"
#include "edgeroute/engine/vocab_trim.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/text/table.h"

namespace edgeroute::engine {
namespace {

namespace fs = std::filesystem;

const fs::path kModel = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "models" / "tiny-bert";

TEST(Int4, PacksTwoValuesPerByteLowNibbleFirst) {
  // One row, one group of 4: amax 7 -> scale 1, values stored as is.
  const Int4Matrix m = quantize_int4({7.0f, -7.0f, 1.0f, 0.0f}, 1, 4, 4);
  ASSERT_EQ(m.packed.size(), 2u);
  EXPECT_EQ(m.packed[0], 0x97);  // 7 low, -7 (0b1001) high
  EXPECT_EQ(m.packed[1], 0x01);
  ASSERT_EQ(m.scale.size(), 1u);
  EXPECT_FLOAT_EQ(m.scale[0], 1.0f);
  const StoredMatrix w = widen_int4(m, "test");
  EXPECT_EQ(w.q8, (std::vector<std::int8_t>{126, -126, 18, 0}));
  EXPECT_FLOAT_EQ(w.scale[0], 1.0f / 18.0f);
}

TEST(Int4, WidenedRowsStayWithinHalfAStepOfTheFourBitValues) {
  std::vector<float> w(6 * 64);
  std::uint32_t state = 12345;
  for (float& v : w) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<std::int32_t>(state >> 8) % 2001 - 1000) / 997.0f;
  }
  w[3] = 9.0f;  // one group of row 0 with a much larger range
  for (const std::int64_t group : {std::int64_t{64}, std::int64_t{16}, std::int64_t{2}}) {
    const Int4Matrix m = quantize_int4(w, 6, 64, group);
    ASSERT_EQ(m.scale.size(), static_cast<std::size_t>(6 * 64 / group));
    const StoredMatrix q = widen_int4(m, "test");
    for (std::int64_t r = 0; r < 6; ++r) {
      for (std::int64_t c = 0; c < 64; ++c) {
        const auto i = static_cast<std::size_t>(r * 64 + c);
        const std::uint8_t byte = m.packed[i / 2];
        const int nib = c % 2 == 0 ? (byte & 0xF) : (byte >> 4);
        const float s4 = m.scale[static_cast<std::size_t>(r * (64 / group) + c / group)];
        const float four = static_cast<float>(nib >= 8 ? nib - 16 : nib) * s4;
        const float eight = static_cast<float>(q.q8[i]) * q.scale[static_cast<std::size_t>(r)];
        EXPECT_LE(std::fabs(four - w[i]), 0.5f * s4 * 1.0001f) << "group " << group << " at " << r << "," << c;
        EXPECT_LE(std::fabs(eight - four), 0.5f * q.scale[static_cast<std::size_t>(r)] * 1.0001f)
            << "group " << group << " at " << r << "," << c;
        EXPECT_LE(std::abs(static_cast<int>(q.q8[i])), 126);
        if (group == 64) {
          EXPECT_EQ(q.q8[i] % 18, 0) << "one group per row converts exactly";
        }
      }
    }
  }
}

TEST(Int4, RejectsBadShapesAndCorruptNibbles) {
  EXPECT_THROW(quantize_int4(std::vector<float>(3), 1, 3, 3), Error);
  EXPECT_THROW(quantize_int4(std::vector<float>(8), 1, 8, 3), Error);
  EXPECT_THROW(quantize_int4(std::vector<float>(8), 1, 8, 6), Error);
  Int4Matrix m = quantize_int4({1.0f, 2.0f}, 1, 2, 2);
  m.packed[0] = 0x08;
  try {
    widen_int4(m, "model.edge: x.q4");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.q4"), std::string::npos) << e.what();
  }
}

TEST(VocabTrimRule, LatinKeepsLatinPunctuationSymbolsAndEmoji) {
  for (const char32_t cp :
       {U'a', U'Z', U'7', U'\u00e9', U'\u00df', U'\u0142', U'\u20ac', U'\u2019', U'\u2665', U'\U0001F600', U'\uFFFD'}) {
    EXPECT_FALSE(is_non_latin_script(cp)) << static_cast<std::uint32_t>(cp);
  }
  for (const char32_t cp : {U'\u03b1', U'\u0434', U'\u05d0', U'\u0627', U'\u0915', U'\u0e01', U'\u3042', U'\u30a2',
                            U'\u4e2d', U'\ud55c', U'\uff41', U'\U00020000'}) {
    EXPECT_TRUE(is_non_latin_script(cp)) << static_cast<std::uint32_t>(cp);
  }
  EXPECT_EQ(parse_vocab_trim("latin"), VocabTrim::kLatin);
  EXPECT_THROW(parse_vocab_trim("cyrillic"), Error);
}

class EdgeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel / "model.safetensors")) {
      GTEST_SKIP() << kModel << " is absent: run the ctest fixture engine_models";
    }
    dir_ = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "edge_file_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const auto table = text::read_table(std::string(EDGEROUTE_TEST_DATA_DIR) + "/../text/data/adversarial.jsonl");
    texts_ = table.column("text");
  }

  std::string compress_to(const std::string& name, CompressOptions o = {}) {
    o.model_dir = kModel.string();
    o.out = (dir_ / name).string();
    compress(o);
    return o.out;
  }

  // Rewrites `src` with metadata key `key` set to `value` (erased if empty).
  std::string with_metadata(const std::string& src, const std::string& key, const std::string& value) {
    const auto f = modelio::SafetensorsFile::open(src);
    modelio::SafetensorsWriter w;
    for (const auto& t : f.tensors()) w.add(t.name, t.dtype, t.shape, t.data);
    for (const auto& [k, v] : f.metadata()) {
      if (k != key) w.set_metadata(k, v);
    }
    if (!value.empty()) w.set_metadata(key, value);
    const std::string out = (dir_ / ("meta_" + key + ".edge")).string();
    w.write(out);
    return out;
  }

  static void expect_error(const std::string& path, const std::string& fragment) {
    try {
      Classifier::load(path);
      ADD_FAILURE() << "expected an error containing '" << fragment << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
  std::vector<std::string> texts_;
};

TEST_F(EdgeFile, LoadsWithResultsIdenticalToInMemoryQuantization) {
  const std::string edge = compress_to("m.edge");
  ClassifierOptions int8;
  int8.precision = Precision::kInt8;
  const Classifier from_dir = Classifier::load(kModel.string(), int8);
  const Classifier from_edge = Classifier::load(edge);
  EXPECT_EQ(from_edge.labels(), from_dir.labels());
  EXPECT_EQ(from_edge.tokenizer().vocab().tokens(), from_dir.tokenizer().vocab().tokens());
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const auto a = from_dir.classify(views);
  const auto b = from_edge.classify(views);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].logits, b[i].logits) << "row " << i;
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "row " << i;
  }
  const auto f = modelio::SafetensorsFile::open(edge);
  const EdgeFileInfo info = read_edge_info(f);
  EXPECT_EQ(info.version, kEdgeFormatVersion);
  EXPECT_EQ(info.source_sha256.size(), 64u);
  EXPECT_NE(f.find("layers.0.attn.q.weight.q8"), nullptr);
  EXPECT_EQ(f.find("layers.0.attn.q.weight"), nullptr);
  EXPECT_NE(f.find("layers.0.attn_norm.weight"), nullptr);
}

// Sub-batching by token budget only regroups packed sequences: every
// per-row kernel sees the same rows, so results are bit-identical.
TEST_F(EdgeFile, BatchTokensRegroupsWithoutChangingResults) {
  ClassifierOptions whole;
  whole.precision = Precision::kInt8;
  whole.batch_tokens = std::int64_t{1} << 30;
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  ASSERT_GT(views.size(), 8u);
  const auto ref = Classifier::load(kModel.string(), whole).classify(views);
  for (const std::int64_t budget : {1, 7, 40}) {
    ClassifierOptions o = whole;
    o.batch_tokens = budget;
    const auto got = Classifier::load(kModel.string(), o).classify(views);
    ASSERT_EQ(got.size(), ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(got[i].logits, ref[i].logits) << "budget " << budget << " row " << i;
      EXPECT_EQ(got[i].embedding, ref[i].embedding) << "budget " << budget << " row " << i;
    }
  }
  ClassifierOptions bad = whole;
  bad.batch_tokens = 0;
  EXPECT_THROW(Classifier::load(kModel.string(), bad), Error);
}

TEST_F(EdgeFile, KeepFp32StoresTheGroupAsFloat) {
  CompressOptions o;
  o.keep_fp32 = {"ffn\\.down", "^embeddings"};
  const std::string edge = compress_to("keep.edge", o);
  const auto f = modelio::SafetensorsFile::open(edge);
  EXPECT_NE(f.find("layers.1.ffn.down.weight"), nullptr);
  EXPECT_EQ(f.find("layers.1.ffn.down.weight.q8"), nullptr);
  EXPECT_NE(f.find("embeddings.word.weight"), nullptr);
  EXPECT_NE(f.find("layers.1.ffn.up.weight.q8"), nullptr);
}

TEST_F(EdgeFile, RefusesToOverwriteWithoutForce) {
  const std::string edge = compress_to("m.edge");
  CompressOptions o;
  o.model_dir = kModel.string();
  o.out = edge;
  EXPECT_THROW(compress(o), Error);
  o.force = true;
  EXPECT_NO_THROW(compress(o));
}

TEST_F(EdgeFile, RejectsNewerVersionsAndBadMetadata) {
  const std::string edge = compress_to("m.edge");
  expect_error(with_metadata(edge, "general.version", std::to_string(kEdgeFormatVersion + 1)),
               "newer than this edgeroute reads");
  expect_error(with_metadata(edge, "general.version", "x1"), "not an integer");
  expect_error(with_metadata(edge, "general.format", "something.else"), "general.format");
  expect_error(with_metadata(edge, "tokenizer.config", ""), "tokenizer.config");
  expect_error(with_metadata(edge, "tokenizer.config", "{\"lowercase\": 1}"), "tokenizer.config");
  expect_error(with_metadata(edge, "edgeroute.temperature", "-1"), "temperature");
  expect_error(with_metadata(edge, "tokenizer.vocab", "[PAD]\n[UNK]"), "tokenizer.vocab");
  expect_error(with_metadata(edge, "edgeroute.config", "{\"model_type\": \"gpt2\"}"), "edgeroute.config");
}

TEST_F(EdgeFile, RejectsMissingTensorsAndTruncation) {
  const std::string edge = compress_to("m.edge");
  {
    const auto f = modelio::SafetensorsFile::open(edge);
    modelio::SafetensorsWriter w;
    for (const auto& t : f.tensors()) {
      if (t.name != "layers.1.ffn.up.weight.scale") w.add(t.name, t.dtype, t.shape, t.data);
    }
    for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
    w.write((dir_ / "missing.edge").string());
  }
  expect_error((dir_ / "missing.edge").string(), "layers.1.ffn.up.weight.scale");
  const auto size = fs::file_size(edge);
  for (const std::uintmax_t keep : {std::uintmax_t{0}, std::uintmax_t{7}, std::uintmax_t{100}, size / 2, size - 1}) {
    const fs::path cut = dir_ / ("cut_" + std::to_string(keep) + ".edge");
    fs::copy_file(edge, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, keep);
    EXPECT_THROW(Classifier::load(cut.string()), Error) << "truncated to " << keep;
  }
}

TEST_F(EdgeFile, FallbackMovesGroupsToFp32UntilTheBudgetHolds) {
  // Labels = the FP32 model's own predictions, so FP32 scores 100% and INT8
  // scores its agreement; a zero budget forces the fallback loop to run until
  // INT8 agrees on every row (at worst with every group in FP32). The real
  // MiniLM with a random head disagrees on some rows when fully INT8 (its
  // logit margins are tiny), so the loop must move at least one group.
  const fs::path model = kModel.parent_path() / "minilm-cls";
  if (!fs::exists(model / "model.safetensors")) GTEST_SKIP() << model << " is absent";
  texts_.resize(100);
  ClassifierOptions fp32;
  fp32.precision = Precision::kFp32;
  const Classifier ref = Classifier::load(model.string(), fp32);
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const auto preds = ref.classify(views);
  {
    std::ofstream check(dir_ / "check.jsonl");
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      check << "{\"text\": " << nlohmann::json(texts_[i]).dump() << ", \"label\": \""
            << ref.labels().name(preds[i].label) << "\"}\n";
    }
  }
  CompressOptions o;
  o.check_path = (dir_ / "check.jsonl").string();
  o.max_loss_points = 0.0;
  o.sensitivity_rows = 100;
  o.model_dir = model.string();
  o.out = (dir_ / "budget.edge").string();
  ClassifierOptions int8;
  int8.precision = Precision::kInt8;
  const auto all_int8 = Classifier::load(model.string(), int8).classify(views);
  std::size_t disagree = 0;
  for (std::size_t i = 0; i < views.size(); ++i) disagree += all_int8[i].label != preds[i].label ? 1 : 0;
  ASSERT_GT(disagree, 0u) << "the fully INT8 model agrees everywhere; the fallback would not be exercised";
  const CompressReport r = compress(o);
  std::size_t moved = 0;
  for (const auto& g : r.groups) moved += g.storage == Storage::kFp32 ? 1 : 0;
  EXPECT_GE(moved, 1u);
  EXPECT_DOUBLE_EQ(r.fp32_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.int8_accuracy, 1.0);
  EXPECT_EQ(r.check_rows, static_cast<std::int64_t>(texts_.size()));
  for (const auto& g : r.groups) EXPECT_GE(g.nmse, 0.0) << g.group;
  const Classifier edge = Classifier::load(o.out);
  const auto got = edge.classify(views);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].label, preds[i].label) << "row " << i;
  EXPECT_EQ(edge.figures().at("check_rows").get<std::int64_t>(), r.check_rows);
}

TEST_F(EdgeFile, VersionOneFilesStillLoad) {
  // Version 1 had int8 and FP32 tensors only; an int8 file is both.
  const std::string edge = compress_to("m.edge");
  const std::string v1 = with_metadata(edge, "general.version", "1");
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const auto a = Classifier::load(edge).classify(views);
  const auto b = Classifier::load(v1).classify(views);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].logits, b[i].logits) << "row " << i;
}

// Version 3 stores the position embeddings and the pooler as per-row int8;
// a version-2 file holds the same values as F32 tensors and still loads,
// with identical results.
TEST_F(EdgeFile, VersionTwoFloatPositionsAndPoolerStillLoad) {
  const std::string edge = compress_to("m.edge");
  const auto f = modelio::SafetensorsFile::open(edge);
  const std::vector<std::string> at_rest = {"embeddings.position.weight", "pooler.weight"};
  for (const std::string& name : at_rest) {
    EXPECT_NE(f.find(name + ".q8"), nullptr) << name;
    EXPECT_NE(f.find(name + ".scale"), nullptr) << name;
    EXPECT_EQ(f.find(name), nullptr) << name;
  }
  const EdgeWeights weights(f);
  modelio::SafetensorsWriter w;
  for (const auto& t : f.tensors()) {
    const auto base = std::find_if(at_rest.begin(), at_rest.end(), [&](const std::string& n) {
      return t.name == n + ".q8" || t.name == n + ".scale";
    });
    if (base == at_rest.end()) {
      w.add(t.name, t.dtype, t.shape, t.data);
    } else if (t.name == *base + ".q8") {
      const std::vector<float> values = dequantize(weights.matrix(*base, t.shape[0], t.shape[1]));
      w.add(*base, t.shape, std::span<const float>(values));
    }
  }
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, k == "general.version" ? "2" : v);
  const std::string v2 = (dir_ / "v2.edge").string();
  w.write(v2);
  const auto old = modelio::SafetensorsFile::open(v2);
  EXPECT_EQ(read_edge_info(old).version, 2);
  ASSERT_NE(old.find("embeddings.position.weight"), nullptr);
  EXPECT_EQ(old.find("embeddings.position.weight")->dtype, modelio::DType::kF32);
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const auto a = Classifier::load(edge).classify(views);
  const auto b = Classifier::load(v2).classify(views);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].logits, b[i].logits) << "row " << i;
    EXPECT_EQ(a[i].embedding, b[i].embedding) << "row " << i;
  }
}

// Check data labelled with the FP32 model's own predictions: FP32 scores 100%.
std::string self_labelled_check(const fs::path& model, const std::vector<std::string>& texts, const fs::path& out) {
  ClassifierOptions fp32;
  fp32.precision = Precision::kFp32;
  const Classifier ref = Classifier::load(model.string(), fp32);
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto preds = ref.classify(views);
  std::ofstream check(out);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    check << "{\"text\": " << nlohmann::json(texts[i]).dump() << ", \"label\": \"" << ref.labels().name(preds[i].label)
          << "\"}\n";
  }
  return out.string();
}

TEST_F(EdgeFile, Int4FileMatchesTheInMemoryFourBitModel) {
  CompressOptions o;
  o.int4 = true;
  o.int4_group = 16;
  o.max_loss_points = 100.0;  // keep every group at 4 bits
  o.check_path = self_labelled_check(kModel, texts_, dir_ / "check.jsonl");
  const std::string edge = compress_to("m4.edge", o);
  const std::string edge8 = compress_to("m8.edge");
  EXPECT_LT(fs::file_size(edge), fs::file_size(edge8));
  const auto f = modelio::SafetensorsFile::open(edge);
  ASSERT_NE(f.find("layers.0.ffn.up.weight.q4"), nullptr);
  EXPECT_EQ(f.find("layers.0.ffn.up.weight.q8"), nullptr);
  EXPECT_EQ(f.find("layers.0.ffn.up.weight.scale4")->shape[1], 32 / 16);
  ASSERT_NE(f.find("embeddings.word.weight.q4"), nullptr);
  EXPECT_EQ(read_edge_info(f).quantization.at("int4_groups").size(),
            quantization_groups(read_edge_info(f).config).size());

  const modelio::EncoderConfig config = modelio::load_hf_config(kModel.string());
  const auto st = modelio::SafetensorsFile::open((kModel / "model.safetensors").string());
  const HfWeights hf(config, st);
  const Int4View view(
      hf, [](const std::string&) { return true; }, 16);
  ClassifierOptions int8;
  int8.precision = Precision::kInt8;
  const Classifier in_memory = Classifier::build_from(config, text::Tokenizer::from_pretrained(kModel.string()), view,
                                                      hf_temperature(config, "config.json"), int8);
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const auto a = in_memory.classify(views);
  const auto b = Classifier::load(edge).classify(views);
  const auto c = Classifier::load(edge8).classify(views);
  double diff48 = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].logits, b[i].logits) << "row " << i;
    for (std::size_t j = 0; j < a[i].logits.size(); ++j)
      diff48 = std::max(diff48, double{std::fabs(a[i].logits[j] - c[i].logits[j])});
  }
  EXPECT_GT(diff48, 0.0) << "4-bit and int8 files gave identical logits: the 4-bit path did not run";
}

TEST_F(EdgeFile, Int4NeedsCheckDataAndAValidGroup) {
  CompressOptions o;
  o.int4 = true;
  EXPECT_THROW(compress_to("a.edge", o), Error);
  o.check_path = self_labelled_check(kModel, texts_, dir_ / "check.jsonl");
  o.int4_group = 6;  // does not divide hidden_size 32
  try {
    compress_to("b.edge", o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--int4-group 6"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "b.edge"));
}

TEST_F(EdgeFile, RejectsCorruptFourBitTensors) {
  CompressOptions o;
  o.int4 = true;
  o.max_loss_points = 100.0;
  o.check_path = self_labelled_check(kModel, texts_, dir_ / "check.jsonl");
  const std::string edge = compress_to("m4.edge", o);
  const auto rewrite = [&](const std::string& name, const auto& change) {
    const auto f = modelio::SafetensorsFile::open(edge);
    modelio::SafetensorsWriter w;
    for (const auto& t : f.tensors()) {
      std::vector<std::byte> data(t.data.begin(), t.data.end());
      std::vector<std::int64_t> shape = t.shape;
      modelio::DType dtype = t.dtype;
      change(t.name, dtype, shape, data);
      w.add(t.name, dtype, shape, data);
    }
    for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
    const std::string out = (dir_ / name).string();
    w.write(out);
    return out;
  };
  const std::string q4 = "layers.1.ffn.down.weight.q4";
  expect_error(rewrite("nibble.edge",
                       [&](const std::string& n, auto&, auto&, std::vector<std::byte>& d) {
                         if (n == q4) d[5] = std::byte{0x80};
                       }),
               "corrupt");
  expect_error(rewrite("dtype.edge",
                       [&](const std::string& n, modelio::DType& t, auto&, auto&) {
                         if (n == q4) t = modelio::DType::kI8;
                       }),
               "must be U8");
  expect_error(rewrite("scale.edge",
                       [&](const std::string& n, auto&, std::vector<std::int64_t>& s, auto&) {
                         if (n == "layers.1.ffn.down.weight.scale4") s = {s[0] * s[1]};
                       }),
               "scale4");
}

TEST_F(EdgeFile, TrimmingUnusedTokensChangesNoResult) {
  CompressOptions o;
  o.trim = VocabTrim::kUnused;
  const std::string trimmed = compress_to("unused.edge", o);
  const std::string full = compress_to("full.edge");
  const Classifier a = Classifier::load(full);
  const Classifier b = Classifier::load(trimmed);
  const std::int64_t unused =
      std::count_if(a.tokenizer().vocab().tokens().begin(), a.tokenizer().vocab().tokens().end(),
                    [](const std::string& t) { return t.rfind("[unused", 0) == 0; });
  ASSERT_GT(unused, 0) << "the tiny vocabulary has no [unusedN] tokens to trim";
  EXPECT_EQ(b.config().vocab_size, a.config().vocab_size - unused);
  EXPECT_LT(fs::file_size(trimmed), fs::file_size(full));
  std::vector<std::string> texts = texts_;
  texts.push_back("[unused5] [unused99]");
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto pa = a.classify(views);
  const auto pb = b.classify(views);
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].logits, pb[i].logits) << "row " << i;
    EXPECT_EQ(pa[i].tokens, pb[i].tokens) << "row " << i;
  }
}

TEST_F(EdgeFile, LatinTrimKeepsLatinTextAndMapsOtherScriptsToUnk) {
  CompressOptions o;
  o.trim = VocabTrim::kLatin;
  const Classifier a = Classifier::load(compress_to("full.edge"));
  const Classifier b = Classifier::load(compress_to("latin.edge", o));
  ASSERT_LT(b.config().vocab_size, a.config().vocab_size);
  for (const std::string& t : b.tokenizer().vocab().tokens()) {
    std::u32string cps;
    text::decode_utf8(t, text::Utf8Policy::kReplace, cps);
    EXPECT_TRUE(std::none_of(cps.begin(), cps.end(), is_non_latin_script)) << t;
  }
  // Rows whose text is all Latin script give identical results.
  std::vector<std::string> latin;
  for (const std::string& t : texts_) {
    std::u32string cps;
    text::decode_utf8(t, text::Utf8Policy::kReplace, cps);
    if (std::none_of(cps.begin(), cps.end(), is_non_latin_script)) latin.push_back(t);
  }
  ASSERT_GT(latin.size(), 10u);
  const std::vector<std::string_view> views(latin.begin(), latin.end());
  const auto pa = a.classify(views);
  const auto pb = b.classify(views);
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].logits, pb[i].logits) << latin[i];
  // A token of another script that the full vocabulary has becomes [UNK].
  std::string other;
  for (const std::string& t : a.tokenizer().vocab().tokens()) {
    std::u32string cps;
    text::decode_utf8(t, text::Utf8Policy::kReplace, cps);
    if (cps.size() == 1 && is_non_latin_script(cps[0])) {
      other = t;
      break;
    }
  }
  ASSERT_FALSE(other.empty());
  const auto ids = b.tokenizer().encode("ok " + other);
  ASSERT_EQ(ids.size(), 4u) << other;
  EXPECT_EQ(ids[2], *b.tokenizer().vocab().find("[UNK]"));
  EXPECT_NE(a.tokenizer().encode("ok " + other)[2], *a.tokenizer().vocab().find("[UNK]"));
}

TEST_F(EdgeFile, FourBitFallbackMovesGroupsUpUntilTheBudgetHolds) {
  const fs::path model = kModel.parent_path() / "minilm-cls";
  if (!fs::exists(model / "model.safetensors")) GTEST_SKIP() << model << " is absent";
  texts_.resize(100);
  CompressOptions o;
  o.int4 = true;
  o.check_path = self_labelled_check(model, texts_, dir_ / "check.jsonl");
  o.max_loss_points = 0.0;
  o.sensitivity_rows = 50;
  o.model_dir = model.string();
  o.out = (dir_ / "budget4.edge").string();
  const CompressReport r = compress(o);
  std::size_t int4 = 0;
  std::size_t moved = 0;
  for (const auto& g : r.groups) {
    int4 += g.storage == Storage::kInt4 ? 1 : 0;
    moved += g.storage != Storage::kInt4 ? 1 : 0;
    EXPECT_GE(g.nmse4, 0.0) << g.group;
  }
  EXPECT_GE(moved, 1u);
  EXPECT_DOUBLE_EQ(r.int8_accuracy, 1.0);
  const std::vector<std::string_view> views(texts_.begin(), texts_.end());
  const Classifier edge = Classifier::load(o.out);
  const auto got = edge.classify(views);
  ClassifierOptions fp32;
  fp32.precision = Precision::kFp32;
  const auto want = Classifier::load(model.string(), fp32).classify(views);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].label, want[i].label) << "row " << i;
  std::cout << "[ info ] 4-bit groups kept: " << int4 << " of " << r.groups.size() << "\n";
}

TEST_F(EdgeFile, CheckDataWithUnknownLabelIsAnError) {
  std::ofstream(dir_ / "bad.csv") << "text,label\nhello,billing\nworld,nonsense\n";
  CompressOptions o;
  o.check_path = (dir_ / "bad.csv").string();
  o.model_dir = kModel.string();
  o.out = (dir_ / "x.edge").string();
  try {
    compress(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nonsense"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out));
}

}  // namespace
}  // namespace edgeroute::engine
