#include "edgeroute/modelio/inspect.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>

#include "edgeroute/common/error.h"
#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::modelio {

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Without a config, the architecture whose table names more of the tensors.
Architecture guess_architecture(const SafetensorsFile& file) {
  std::int64_t bert = 0;
  std::int64_t distilbert = 0;
  for (const TensorView& t : file.tensors()) {
    bert += to_canonical(Architecture::kBert, t.name).has_value() ? 1 : 0;
    distilbert += to_canonical(Architecture::kDistilBert, t.name).has_value() ? 1 : 0;
  }
  return distilbert > bert ? Architecture::kDistilBert : Architecture::kBert;
}

void describe_config(const EncoderConfig& c, std::ostream& out) {
  out << "architecture       " << architecture_name(c.arch);
  if (!c.architectures.empty()) {
    out << " (";
    for (std::size_t i = 0; i < c.architectures.size(); ++i) out << (i > 0 ? ", " : "") << c.architectures[i];
    out << ")";
  }
  out << "\nlayers             " << c.num_layers << "\nhidden size        " << c.hidden_size << "\nattention heads    "
      << c.num_heads << " (head dim " << c.head_dim() << ")"
      << "\nffn size           " << c.intermediate_size << "\nvocabulary         " << c.vocab_size
      << "\nmax positions      " << c.max_position_embeddings;
  if (c.arch == Architecture::kBert) out << "\ntoken types        " << c.type_vocab_size;
  out << "\nactivation         " << c.hidden_act << "\nlayer norm eps     " << c.layer_norm_eps
      << "\nlabels             ";
  if (c.labels.empty()) {
    out << "none";
  } else {
    out << c.labels.size() << ":";
    for (std::int64_t i = 0; i < c.labels.size(); ++i) out << " " << i << "=" << c.labels.name(i);
  }
  out << "\n";
}

void describe_file(const SafetensorsFile& file, std::optional<Architecture> arch, std::ostream& out) {
  const Architecture names_arch = arch ? *arch : guess_architecture(file);
  out << "file               " << file.path() << "\nheader bytes       " << file.header_size()
      << " (data at file offset " << file.data_offset() << ")\n";
  out << "metadata           " << (file.metadata().empty() ? "none" : "") << "\n";
  for (const auto& [key, value] : file.metadata()) {
    constexpr std::size_t kMaxShown = 200;
    // One line per key: control characters (the vocabulary's newlines) are
    // shown escaped.
    std::string shown;
    for (const char ch : value.substr(0, kMaxShown)) {
      if (ch == '\n') {
        shown += "\\n";
      } else if (static_cast<unsigned char>(ch) < 0x20) {
        shown += '?';
      } else {
        shown += ch;
      }
    }
    out << "  " << key << " = " << shown
        << (value.size() > kMaxShown ? "... (" + std::to_string(value.size()) + " bytes)" : "") << "\n";
  }
  struct Row {
    std::string hf, canonical, dtype, shape, bytes, offset;
  };
  std::vector<Row> rows;
  rows.push_back({"name", "canonical", "dtype", "shape", "bytes", "offset"});
  std::int64_t params = 0;
  std::int64_t bytes = 0;
  for (const TensorView& t : file.tensors()) {
    const std::optional<std::string> canonical = to_canonical(names_arch, t.name);
    rows.push_back({t.name, canonical.value_or("-"), std::string(dtype_name(t.dtype)), shape_text(t.shape),
                    std::to_string(t.data.size()), std::to_string(file.data_offset() + t.offset)});
    params += t.numel();
    bytes += static_cast<std::int64_t>(t.data.size());
  }
  std::size_t w[5] = {0, 0, 0, 0, 0};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.hf.size());
    w[1] = std::max(w[1], r.canonical.size());
    w[2] = std::max(w[2], r.dtype.size());
    w[3] = std::max(w[3], r.shape.size());
    w[4] = std::max(w[4], r.bytes.size());
  }
  out << "tensors            " << file.tensors().size() << "\n";
  for (const Row& r : rows) {
    out << "  " << std::left << std::setw(static_cast<int>(w[0])) << r.hf << "  " << std::setw(static_cast<int>(w[1]))
        << r.canonical << "  " << std::setw(static_cast<int>(w[2])) << r.dtype << "  "
        << std::setw(static_cast<int>(w[3])) << r.shape << "  " << std::right << std::setw(static_cast<int>(w[4]))
        << r.bytes << "  " << r.offset << "\n";
  }
  out << "total parameters   " << params << "\ntotal bytes        " << bytes << "\n";
}

}  // namespace

void describe_model(const std::string& path, std::ostream& out) {
  // Build the whole text first so that a failure prints nothing.
  std::ostringstream text;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    const EncoderConfig config = load_hf_config(path);
    describe_config(config, text);
    const std::string weights = (std::filesystem::path(path) / "model.safetensors").string();
    if (!std::filesystem::exists(weights, ec)) {
      throw Error(path + ": no model.safetensors in this directory");
    }
    describe_file(SafetensorsFile::open(weights), config.arch, text);
  } else {
    describe_file(SafetensorsFile::open(path), std::nullopt, text);
  }
  out << text.str();
}

}  // namespace edgeroute::modelio
