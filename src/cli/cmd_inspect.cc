// edgeroute inspect: what a model directory or safetensors file holds.
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "edgeroute/modelio/inspect.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::cli {

namespace {

void describe_tokenizer(const std::string& dir, std::ostream& out) {
  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(dir) / "vocab.txt")) {
    out << "tokenizer: none (no vocab.txt)\n";
    return;
  }
  const text::Tokenizer tok = text::Tokenizer::from_pretrained(dir);
  const auto& c = tok.config();
  out << "tokenizer: WordPiece, " << tok.vocab().size() << " tokens, lowercase "
      << (c.normalizer.lowercase ? "yes" : "no") << ", strip accents " << (c.normalizer.strip_accents ? "yes" : "no")
      << ", split CJK " << (c.normalizer.handle_chinese_chars ? "yes" : "no") << ", max length " << c.model_max_length
      << "\n";
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Print a model directory's or safetensors file's config, metadata and tensor table");
  cmd->add_option("path", *path, "Hugging Face model directory or .safetensors file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->callback([path]() {
    modelio::describe_model(*path, std::cout);
    if (std::filesystem::is_directory(*path)) describe_tokenizer(*path, std::cout);
  });
}

}  // namespace edgeroute::cli
