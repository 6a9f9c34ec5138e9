#include "edgeroute/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <utility>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::train {

namespace fs = std::filesystem;
using modelio::Architecture;
using modelio::EncoderConfig;

namespace {

// Tokenizer files copied next to a saved model when the source has them.
constexpr const char* kTokenizerFiles[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                           "tokenizer.json"};

std::string errno_text() { return std::strerror(errno); }

Task task_from_architectures(const std::vector<std::string>& architectures) {
  for (const std::string& a : architectures) {
    if (a.ends_with("ForSequenceClassification")) return Task::kSequenceClassification;
    if (a.ends_with("ForMaskedLM")) return Task::kMaskedLm;
  }
  return Task::kEncoder;
}

std::vector<std::int64_t> shape_of(const torch::Tensor& t) { return t.sizes().vec(); }

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// A float32 CPU tensor that owns a copy of `view`'s data (any float dtype).
torch::Tensor to_tensor(const modelio::TensorView& view) {
  std::vector<float> values = modelio::to_float32(view);
  return torch::from_blob(values.data(), view.shape, torch::kFloat).clone();
}

void write_all(int fd, std::span<const char> bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path.string() + ": write failed: " + errno_text());
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

// Writes `bytes` to `path` and fsyncs it, so the directory rename that
// publishes it never exposes a half-written file after a crash.
void write_file_synced(const fs::path& path, std::span<const char> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot create: " + errno_text());
  try {
    write_all(fd, bytes, path);
    if (::fsync(fd) != 0) throw Error(path.string() + ": fsync failed: " + errno_text());
  } catch (const Error&) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw Error(path.string() + ": close failed: " + errno_text());
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir.string() + ": cannot open directory: " + errno_text());
  const int rc = ::fsync(fd);
  const std::string reason = rc != 0 ? errno_text() : std::string();
  ::close(fd);
  if (rc != 0) throw Error(dir.string() + ": fsync failed: " + reason);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path.string() + ": read failed");
  return bytes;
}

// A uniquely named sibling directory, removed with its contents unless
// release() is called (after it was renamed into place).
class StagingDir {
 public:
  StagingDir(const fs::path& target, const char* tag) {
    std::string pattern = target.string() + tag + "XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error(target.string() + ": cannot create a temporary directory next to it: " + errno_text());
    }
    path_ = pattern;
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  ~StagingDir() {
    if (path_.empty()) return;
    std::error_code ignored;  // best effort while unwinding; the original error is what the user needs
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Puts `staged` at `out`, replacing an existing `out` atomically where the
// file system allows it.
void publish(StagingDir& staged, const fs::path& out, bool out_exists) {
  if (!out_exists) {
    if (::rename(staged.path().c_str(), out.c_str()) != 0) {
      throw Error(out.string() + ": cannot move the saved model into place: " + errno_text());
    }
    staged.release();
    return;
  }
  if (::renameat2(AT_FDCWD, staged.path().c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) == 0) {
    // `staged` now names the previous contents of `out`; its destructor removes them.
    return;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
    throw Error(out.string() + ": cannot replace the directory: " + errno_text());
  }
  // No atomic exchange on this file system: move the old directory aside first.
  StagingDir old(out, ".old-");
  if (::rename(out.c_str(), old.path().c_str()) != 0) {
    throw Error(out.string() + ": cannot move the existing directory aside: " + errno_text());
  }
  if (::rename(staged.path().c_str(), out.c_str()) != 0) {
    const std::string reason = errno_text();
    if (::rename(old.path().c_str(), out.c_str()) == 0) old.release();
    throw Error(out.string() + ": cannot move the saved model into place: " + reason);
  }
  staged.release();
}

}  // namespace

std::string hf_architecture(Architecture arch, Task task) {
  const std::string base = arch == Architecture::kBert ? "Bert" : "DistilBert";
  switch (task) {
    case Task::kEncoder:
      return base + "Model";
    case Task::kMaskedLm:
      return base + "ForMaskedLM";
    case Task::kSequenceClassification:
      return base + "ForSequenceClassification";
  }
  return base + "Model";
}

LoadedModel load_model(const std::string& dir, const LoadOptions& options) {
  const fs::path root(dir);
  const fs::path config_path = root / "config.json";
  const fs::path weights_path = root / "model.safetensors";
  if (!fs::is_regular_file(config_path)) throw Error(dir + ": no config.json (not a Hugging Face model directory)");
  if (!fs::is_regular_file(weights_path)) {
    throw Error(dir + ": no model.safetensors (convert a pytorch_model.bin checkpoint to safetensors first)");
  }
  EncoderConfig config = modelio::load_hf_config(config_path.string());
  const modelio::SafetensorsFile file = modelio::SafetensorsFile::open(weights_path.string());
  const auto tensors = modelio::canonical_tensors(config.arch, file);
  const modelio::Heads present{.pooler = tensors.contains("pooler.weight"),
                               .classifier = tensors.contains("head.out.weight"),
                               .mlm = tensors.contains("mlm.transform.weight")};
  if (present.classifier && config.labels.empty()) {
    throw Error(weights_path.string() + ": has classifier tensors but " + config_path.string() + " has no id2label");
  }
  modelio::check_tensors(config, file, present);

  const Task task = options.task ? *options.task : task_from_architectures(config.architectures);
  bool new_classifier = false;
  if (task == Task::kSequenceClassification) {
    if (!options.labels.empty()) {
      new_classifier = !(options.labels == config.labels);
      config.labels = options.labels;
    } else if (config.labels.empty()) {
      throw Error(config_path.string() + ": no id2label, so the classifier's labels must be given");
    }
  }

  LoadedModel loaded;
  loaded.report.source = dir;
  loaded.report.prefix = modelio::detect_prefix(config.arch, file);
  torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  // A BERT pooler is kept only where HF's class has one (not in *ForMaskedLM).
  loaded.model = EncoderModel(config, task, present.pooler, generator);

  const torch::NoGradGuard no_grad;
  std::vector<std::string> used;
  for (auto& item : loaded.model->named_parameters()) {
    const std::string& name = item.key();
    const auto it = tensors.find(name);
    if (it == tensors.end() || (new_classifier && name.starts_with("head."))) {
      loaded.report.initialized.push_back(name);
      continue;
    }
    const modelio::TensorView& view = *it->second;
    if (view.shape != shape_of(item.value())) {
      throw Error(weights_path.string() + ": tensor '" + view.name + "' has shape " + shape_text(view.shape) +
                  ", the model expects " + shape_text(shape_of(item.value())));
    }
    item.value().copy_(to_tensor(view));
    used.push_back(name);
  }
  if (task == Task::kMaskedLm) {
    if (const auto it = tensors.find("mlm.decoder.weight"); it != tensors.end()) {
      if (!torch::equal(to_tensor(*it->second), loaded.model->embeddings->word->weight)) {
        throw Error(weights_path.string() + ": MLM decoder '" + it->second->name +
                    "' differs from the word embeddings; untied decoders are not supported");
      }
      used.push_back(it->first);
    }
  }
  for (const auto& [name, view] : tensors) {
    if (std::find(used.begin(), used.end(), name) == used.end()) loaded.report.unused.push_back(name);
  }
  loaded.model->eval();
  return loaded;
}

void save_model(EncoderModelImpl& model, const std::string& out_dir, const SaveOptions& options) {
  fs::path out = fs::absolute(fs::path(out_dir)).lexically_normal();
  if (out.has_parent_path() && !out.has_filename()) out = out.parent_path();  // "dir/" -> "dir"
  if (out.filename().empty() || out == out.root_path()) throw Error(out_dir + ": not a valid output directory");
  const bool out_exists = fs::exists(fs::symlink_status(out));
  if (out_exists && !fs::is_directory(fs::symlink_status(out))) {
    throw Error(out.string() + ": exists and is not a directory");
  }
  if (out_exists && !options.overwrite) throw Error(out.string() + ": already exists (choose overwrite to replace it)");
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) throw Error(out.parent_path().string() + ": cannot create directory: " + ec.message());

  StagingDir staged(out, ".tmp-");
  fs::permissions(staged.path(),
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                      fs::perms::others_exec,
                  ec);

  const EncoderConfig& source = model.config();
  const Task task = model.task();
  EncoderConfig config = source;
  config.architectures = {hf_architecture(config.arch, task)};
  if (task != Task::kSequenceClassification) config.labels = modelio::LabelMap();
  nlohmann::json json = modelio::to_hf_json(config);
  if (!options.config_fields.is_object()) throw Error("save_model: config_fields must be a JSON object");
  for (const auto& [key, value] : options.config_fields.items()) json[key] = value;
  // Weights are always written as float32, whatever the source stored.
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (json.contains(key)) json[key] = "float32";
  }
  const std::string config_text = json.dump(2) + "\n";
  write_file_synced(staged.path() / "config.json", config_text);

  const std::string prefix =
      task == Task::kEncoder ? "" : (config.arch == Architecture::kBert ? "bert." : "distilbert.");
  modelio::SafetensorsWriter writer;
  // HF transformers refuses safetensors files without format metadata.
  writer.set_metadata("format", "pt");
  for (const auto& item : model.named_parameters()) {
    const torch::Tensor cpu = item.value().detach().to(torch::kCPU, torch::kFloat).contiguous();
    writer.add<float>(modelio::to_hf(config.arch, item.key(), prefix), shape_of(cpu),
                      std::span<const float>(cpu.data_ptr<float>(), static_cast<std::size_t>(cpu.numel())));
  }
  writer.write((staged.path() / "model.safetensors").string());

  if (!options.tokenizer_dir.empty()) {
    for (const char* name : kTokenizerFiles) {
      const fs::path from = fs::path(options.tokenizer_dir) / name;
      if (!fs::is_regular_file(from)) continue;
      const std::string bytes = read_file(from);
      write_file_synced(staged.path() / name, bytes);
    }
  }
  for (const auto& [name, bytes] : options.extra_files) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      throw Error("save_model: extra file name '" + name + "' must be a plain file name");
    }
    write_file_synced(staged.path() / name, bytes);
  }
  sync_directory(staged.path());
  publish(staged, out, out_exists);
  sync_directory(out.parent_path());
}

}  // namespace edgeroute::train
