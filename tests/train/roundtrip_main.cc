// train_roundtrip: loads a Hugging Face directory with edgeroute_train, saves
// it with save_model, and writes what our forward gives on a list of texts,
// so that check_hf_load.py can verify that Hugging Face loads the saved
// directory cleanly and computes the same outputs.
//
// Usage: train_roundtrip --model DIR --texts FILE --out DIR
//                        [--task encoder|masked-lm|sequence-classification]
//                        [--labels a,b,c]
// Writes OUT (the saved model) and OUT.edgeroute.safetensors: input_ids,
// attention_mask [B,T] I64, last_hidden_state [B,T,H], pooler_output [B,H]
// when there is a pooler, logits [B,L] or mlm_logits [B,T,V]; metadata
// "texts" (JSON array) and "max_len".
// Exit codes: 0 written, 1 error, 77 the model is absent (ctest skip).
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/text/table.h"
#include "edgeroute/text/tokenizer.h"
#include "edgeroute/train/checkpoint.h"

namespace {

using namespace edgeroute;

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = s.find(',', start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

train::Task parse_task(const std::string& name) {
  for (const train::Task t : {train::Task::kEncoder, train::Task::kMaskedLm, train::Task::kSequenceClassification}) {
    if (name == train::task_name(t)) return t;
  }
  throw Error("--task: unknown task '" + name + "'");
}

void add_tensor(modelio::SafetensorsWriter& writer, const std::string& name, const torch::Tensor& t) {
  const std::vector<std::int64_t> shape = t.sizes().vec();
  if (t.scalar_type() == torch::kLong) {
    const torch::Tensor c = t.contiguous();
    writer.add<std::int64_t>(name, shape, std::span<const std::int64_t>(c.data_ptr<std::int64_t>(), c.numel()));
  } else {
    const torch::Tensor c = t.to(torch::kFloat).contiguous();
    writer.add<float>(name, shape, std::span<const float>(c.data_ptr<float>(), c.numel()));
  }
}

int run(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* required : {"--model", "--texts", "--out"}) {
    if (!args.contains(required)) throw Error(std::string("missing ") + required);
  }
  const std::string model_dir = args["--model"];
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "model.safetensors")) {
    std::cout << "SKIP: no model at " << model_dir << '\n';
    return 77;
  }
  train::LoadOptions options;
  if (args.contains("--task")) options.task = parse_task(args["--task"]);
  if (args.contains("--labels")) options.labels = modelio::LabelMap::from_labels(split_commas(args["--labels"]));
  train::LoadedModel loaded = train::load_model(model_dir, options);
  train::EncoderModelImpl& model = *loaded.model;
  for (const std::string& name : loaded.report.initialized) std::cout << "initialized " << name << '\n';
  for (const std::string& name : loaded.report.unused) std::cout << "unused " << name << '\n';

  const std::string out = args["--out"];
  train::save_model(model, out, {.tokenizer_dir = model_dir, .overwrite = true});

  const text::Tokenizer tokenizer = text::Tokenizer::from_pretrained(model_dir);
  const text::TextTable table = text::read_table(args["--texts"]);
  const std::vector<std::string> texts =
      table.column(text::resolve_column(table, std::nullopt, text::kTextColumnCandidates, "column"));
  const std::int64_t max_len = std::min<std::int64_t>(128, model.config().max_position_embeddings);
  std::vector<std::vector<std::int32_t>> sequences;
  for (const std::string& t : texts) sequences.push_back(tokenizer.encode(t, max_len));
  text::TokenBatch batch = text::pad_batch(sequences, tokenizer.pad_id());
  const torch::Tensor ids =
      torch::from_blob(batch.ids.data(), {batch.rows, batch.cols}, torch::kInt).to(torch::kLong);
  const torch::Tensor mask =
      torch::from_blob(batch.attention_mask.data(), {batch.rows, batch.cols}, torch::kInt).to(torch::kLong);
  const torch::NoGradGuard no_grad;
  const train::ForwardOutput result = model.forward(ids, mask, {.pooled = model.has_pooler(), .head = true});

  modelio::SafetensorsWriter writer;
  add_tensor(writer, "input_ids", ids);
  add_tensor(writer, "attention_mask", mask);
  add_tensor(writer, "last_hidden_state", result.last_hidden);
  if (result.pooled.defined()) add_tensor(writer, "pooler_output", result.pooled);
  if (model.task() == train::Task::kSequenceClassification) add_tensor(writer, "logits", result.logits);
  if (model.task() == train::Task::kMaskedLm) add_tensor(writer, "mlm_logits", result.logits);
  writer.set_metadata("texts", nlohmann::json(texts).dump());
  writer.set_metadata("max_len", std::to_string(max_len));
  writer.write(out + ".edgeroute.safetensors");
  std::cout << "saved " << out << " (" << train::hf_architecture(model.config().arch, model.task()) << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const edgeroute::Error& e) {
    std::cerr << "train_roundtrip: error: " << e.what() << '\n';
    return 1;
  }
}
