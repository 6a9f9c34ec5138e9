// edgeroute tokenize: token ids of every row of a data file, one JSON line per
// row, in input order. The ids are those Hugging Face's BertTokenizerFast
// gives for the same model directory.
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "commands.h"
#include "edgeroute/common/error.h"
#include "edgeroute/text/table.h"
#include "edgeroute/text/tokenizer.h"

namespace edgeroute::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string input;
  std::optional<std::string> column;
  text::TableFormat format = text::TableFormat::kAuto;
  std::int64_t max_len = 0;
  text::Utf8Policy invalid_utf8 = text::Utf8Policy::kStrict;
  bool with_tokens = false;
};

void append_json_string(const std::string& s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void run_tokenize(const TokenizeOptions& o) {
  const text::Tokenizer tok = text::Tokenizer::from_pretrained(o.model);
  const text::TextTable table = text::read_table(o.input, o.format);
  const std::string column = text::resolve_column(table, o.column, text::kTextColumnCandidates, "--column");
  const std::vector<std::string> texts = table.column(column);

  text::Workspace ws;
  std::vector<std::int32_t> ids;
  std::string line;
  std::size_t truncated = 0;
  for (std::size_t r = 0; r < texts.size(); ++r) {
    ids.clear();
    try {
      truncated += tok.encode(texts[r], ids, ws, o.max_len, o.invalid_utf8) ? 1 : 0;
    } catch (const Error& e) {
      throw Error(o.input + ":" + std::to_string(table.source_lines[r]) + ": " + e.what());
    }
    line = "{\"ids\":[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) line.push_back(',');
      line += std::to_string(ids[i]);
    }
    line.push_back(']');
    if (o.with_tokens) {
      line += ",\"tokens\":[";
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) line.push_back(',');
        append_json_string(tok.vocab().token(ids[i]), line);
      }
      line.push_back(']');
    }
    line += "}\n";
    std::cout << line;
  }
  std::cout.flush();
  if (truncated > 0) {
    std::cerr << "edgeroute tokenize: " << truncated << " of " << texts.size() << " texts were truncated to "
              << (o.max_len > 0 ? o.max_len : tok.config().model_max_length) << " tokens\n";
  }
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Print the WordPiece token ids of every input row as JSON lines ({\"ids\":[...]})");
  cmd->add_option("--model", opts->model, "Hugging Face model directory (vocab.txt, tokenizer_config.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--input", opts->input,
                  "Data file: .csv/.tsv with a header, .jsonl, or anything else as plain text lines")
      ->required();
  cmd->add_option("--column", opts->column,
                  "Text column (default: the first of text, transcript, utterance, message, sentence, query)");
  const std::map<std::string, text::TableFormat> formats{{"auto", text::TableFormat::kAuto},
                                                         {"csv", text::TableFormat::kCsv},
                                                         {"tsv", text::TableFormat::kTsv},
                                                         {"jsonl", text::TableFormat::kJsonl},
                                                         {"lines", text::TableFormat::kLines}};
  cmd->add_option("--format", opts->format, "Input format (default: from the file extension)")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));
  cmd->add_option("--max-len", opts->max_len,
                  "Truncate to N ids including [CLS] and [SEP] (default: the model's maximum)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 20));
  const std::map<std::string, text::Utf8Policy> policies{{"strict", text::Utf8Policy::kStrict},
                                                         {"replace", text::Utf8Policy::kReplace}};
  cmd->add_option("--invalid-utf8", opts->invalid_utf8,
                  "Bytes that are not UTF-8: 'strict' stops with an error naming the line, "
                  "'replace' substitutes U+FFFD as Python's errors=\"replace\" does")
      ->transform(CLI::CheckedTransformer(policies, CLI::ignore_case));
  cmd->add_flag("--with-tokens", opts->with_tokens, "Also print the token strings");
  cmd->callback([opts]() { run_tokenize(*opts); });
}

}  // namespace edgeroute::cli
