#include "edgeroute/text/table.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "edgeroute/common/error.h"
#include "edgeroute/common/mapped_file.h"

namespace edgeroute::text {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string at_line(const std::string& source, std::size_t line) { return source + ":" + std::to_string(line) + ": "; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

template <typename Range>
std::string join_quoted(const Range& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += '\'';
    out += name;
    out += '\'';
  }
  return out.empty() ? "(none)" : out;
}

std::string_view strip_bom(std::string_view s) {
  if (s.substr(0, kUtf8Bom.size()) == kUtf8Bom) s.remove_prefix(kUtf8Bom.size());
  return s;
}

void check_size(std::size_t size, const std::string& source) {
  if (size > kMaxTableBytes) {
    throw Error(source + ": input is " + std::to_string(size) + " bytes, more than the " +
                std::to_string(kMaxTableBytes) + "-byte (2 GiB) limit for tables; split it into smaller files");
  }
}

// ---------------------------------------------------------------------------
// CSV / TSV

class CsvParser {
 public:
  CsvParser(std::string_view s, char sep, const std::string& source) : s_(s), sep_(sep), source_(source) {}

  // Parses the next record into `fields`, skipping empty lines. Returns false
  // at end of input. `start_line` receives the record's first line.
  bool next(std::vector<std::string>& fields, std::size_t& start_line) {
    fields.clear();
    while (i_ < s_.size() && (s_[i_] == '\n' || s_[i_] == '\r')) consume_line_break();
    if (i_ >= s_.size()) return false;
    start_line = line_;
    for (;;) {
      const bool quoted = i_ < s_.size() && s_[i_] == '"';
      fields.push_back(quoted ? quoted_field() : unquoted_field());
      if (i_ >= s_.size()) return true;
      if (s_[i_] == sep_) {
        ++i_;
        continue;
      }
      consume_line_break();
      return true;
    }
  }

 private:
  bool at_lone_cr(std::size_t k) const { return s_[k] == '\r' && (k + 1 >= s_.size() || s_[k + 1] != '\n'); }

  // Consumes one LF, CRLF or lone CR at i_.
  void consume_line_break() {
    if (s_[i_] == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') ++i_;
    ++i_;
    ++line_;
  }

  std::string unquoted_field() {
    const char stops[] = {sep_, '\r', '\n'};
    std::size_t end = s_.find_first_of(std::string_view(stops, 3), i_);
    if (end == std::string_view::npos) end = s_.size();
    std::string field(s_.substr(i_, end - i_));
    i_ = end;
    return field;
  }

  std::string quoted_field() {
    const std::size_t open_line = line_;
    ++i_;  // opening quote
    std::string field;
    for (;;) {
      const std::size_t q = s_.find('"', i_);
      if (q == std::string_view::npos) {
        throw Error(at_line(source_, open_line) +
                    "quoted field is not terminated (no closing '\"' before the end of input)");
      }
      for (std::size_t k = i_; k < q; ++k) {
        if (s_[k] == '\n' || at_lone_cr(k)) ++line_;
      }
      field.append(s_.substr(i_, q - i_));
      i_ = q + 1;
      if (i_ < s_.size() && s_[i_] == '"') {
        field += '"';
        ++i_;
        continue;
      }
      break;
    }
    if (i_ < s_.size() && s_[i_] != sep_ && s_[i_] != '\n' && s_[i_] != '\r') {
      throw Error(at_line(source_, line_) + "unexpected text after the closing quote of a field " +
                  "(a quote inside a quoted field must be doubled: \"\")");
    }
    return field;
  }

  std::string_view s_;
  char sep_;
  const std::string& source_;
  std::size_t i_ = 0;
  std::size_t line_ = 1;
};

TextTable parse_delimited(std::string_view s, char sep, const std::string& source) {
  TextTable table;
  table.source = source;
  CsvParser parser(s, sep, source);
  std::vector<std::string> fields;
  std::size_t line = 0;
  if (!parser.next(fields, line)) {
    throw Error(source + ": no header row (the input is empty or only blank lines)");
  }
  const std::size_t header_line = line;
  std::unordered_set<std::string_view> seen;
  for (std::size_t c = 0; c < fields.size(); ++c) {
    if (fields[c].empty()) {
      throw Error(at_line(source, header_line) + "header column " + std::to_string(c + 1) + " has an empty name");
    }
  }
  table.columns = std::move(fields);
  for (const std::string& name : table.columns) {
    if (!seen.insert(name).second) {
      throw Error(at_line(source, header_line) + "header names column '" + name + "' twice");
    }
  }
  const std::size_t width = table.columns.size();
  while (parser.next(fields, line)) {
    if (fields.size() != width) {
      throw Error(at_line(source, line) + "row has " + std::to_string(fields.size()) + " fields but the header (line " +
                  std::to_string(header_line) + ") has " + std::to_string(width) + " columns" +
                  (fields.size() > width ? std::string(" (quote fields that contain '") +
                                               (sep == '\t' ? "\\t" : std::string(1, sep)) + "')"
                                         : std::string()));
    }
    table.rows.push_back(std::move(fields));
    table.source_lines.push_back(line);
    fields = {};
  }
  return table;
}

// ---------------------------------------------------------------------------
// JSON Lines

// nlohmann's messages start with "[json.exception.parse_error.101] parse error
// at line 1, column 5: "; the line/column there are within one JSONL line and
// would contradict ours, so keep only the description. Bytes >= 0x80 are
// escaped because the message may quote the invalid UTF-8 that caused it.
std::string describe_json_error(const std::string& what) {
  std::string_view msg = what;
  if (const auto p = msg.find("] "); p != std::string_view::npos) msg.remove_prefix(p + 2);
  if (msg.substr(0, 11) == "parse error") {
    if (const auto p = msg.find(": "); p != std::string_view::npos) msg.remove_prefix(p + 2);
  }
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : msg) {
    const auto u = static_cast<unsigned char>(ch);
    if (u >= 0x80) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += ch;
    }
  }
  return out;
}

// SAX handler for one JSONL line. SAX rather than nlohmann::json because it
// keeps keys in file order, gives the source spelling of floating-point
// numbers, and lets us name the key of a nested value.
class JsonlLineHandler {
 public:
  using json = nlohmann::json;

  std::vector<std::pair<std::string, std::string>> cells;
  std::string error;  // set when a handler callback rejected the line

  bool null() { return scalar(""); }
  bool boolean(bool v) { return scalar(v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) { return scalar(std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return scalar(std::to_string(v)); }
  bool number_float(json::number_float_t /*value*/, const json::string_t& text) { return scalar(text); }
  bool string(json::string_t& v) { return scalar(std::move(v)); }
  bool binary(json::binary_t& /*value*/) { return reject("binary values are not supported"); }
  bool start_object(std::size_t /*size*/) {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    return nested("an object");
  }
  bool end_object() {
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t /*size*/) { return depth_ == 0 ? not_object("an array") : nested("an array"); }
  bool end_array() { return true; }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/, const nlohmann::detail::exception& ex) {
    error = "invalid JSON: " + describe_json_error(ex.what());
    return false;
  }

 private:
  bool scalar(std::string value) {
    if (depth_ == 0) return not_object("a scalar value");
    for (const auto& cell : cells) {
      if (cell.first == key_) return reject("key '" + key_ + "' appears twice in the object");
    }
    cells.emplace_back(std::move(key_), std::move(value));
    key_.clear();
    return true;
  }
  bool nested(const char* what) {
    return reject("value of key '" + key_ + "' is " + what +
                  "; only strings, numbers, booleans and null are supported");
  }
  bool not_object(const char* what) { return reject(std::string("expected a JSON object per line, found ") + what); }
  bool reject(std::string why) {
    error = std::move(why);
    return false;
  }

  int depth_ = 0;
  std::string key_;
};

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

TextTable parse_jsonl(std::string_view s, const std::string& source) {
  TextTable table;
  table.source = source;
  std::unordered_map<std::string, std::size_t> index;
  // Padding rows for a key that appears late costs memory not backed by
  // input; bounding cells by the input size keeps memory proportional to it
  // even for adversarial inputs where every line brings a new key.
  const std::size_t max_cells = std::max<std::size_t>(s.size(), std::size_t{1} << 20);
  std::size_t line_no = 0;
  const auto check_cells = [&](std::size_t rows, std::size_t columns) {
    if (rows * columns > max_cells) {
      throw Error(at_line(source, line_no) + "table of " + std::to_string(rows) + " rows by " +
                  std::to_string(columns) + " distinct keys is too large for a " + std::to_string(s.size()) +
                  "-byte input; most rows lack most keys");
    }
  };
  std::size_t pos = 0;
  while (pos < s.size()) {
    ++line_no;
    std::size_t end = s.find('\n', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view line = s.substr(pos, end - pos);
    pos = end + 1;
    if (is_blank(line)) continue;

    JsonlLineHandler handler;
    const bool ok = nlohmann::json::sax_parse(line, &handler);
    if (!ok || !handler.error.empty()) {
      throw Error(at_line(source, line_no) + (handler.error.empty() ? std::string("invalid JSON") : handler.error));
    }

    const std::size_t row = table.rows.size();
    std::vector<std::string> cells(table.columns.size());
    std::vector<bool> present(table.columns.size(), false);
    for (auto& [key, value] : handler.cells) {
      auto it = index.find(key);
      if (it == index.end()) {
        check_cells(row + 1, table.columns.size() + 1);
        it = index.emplace(key, table.columns.size()).first;
        table.columns.push_back(key);
        std::vector<std::size_t> missing(row);
        for (std::size_t r = 0; r < row; ++r) {
          missing[r] = r;
          table.rows[r].emplace_back();
        }
        table.missing_rows.push_back(std::move(missing));
        cells.emplace_back();
        present.push_back(false);
      }
      cells[it->second] = std::move(value);
      present[it->second] = true;
    }
    for (std::size_t c = 0; c < present.size(); ++c) {
      if (!present[c]) table.missing_rows[c].push_back(row);
    }
    check_cells(row + 1, table.columns.size());
    table.rows.push_back(std::move(cells));
    table.source_lines.push_back(line_no);
  }
  if (table.rows.empty()) {
    throw Error(source + ": no JSON objects (the input is empty or only blank lines)");
  }
  return table;
}

// ---------------------------------------------------------------------------
// Plain lines

TextTable parse_lines(std::string_view s, const std::string& source) {
  TextTable table;
  table.source = source;
  table.columns = {"text"};
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < s.size()) {
    ++line_no;
    std::size_t end = s.find('\n', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view line = s.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    table.rows.push_back({std::string(line)});
    table.source_lines.push_back(line_no);
    pos = end + 1;
  }
  return table;
}

}  // namespace

std::size_t TextTable::column_index(std::string_view name) const {
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] == name) return c;
  }
  throw Error(source + ": no column named '" + std::string(name) + "'; available columns: " + join_quoted(columns));
}

std::vector<std::string> TextTable::column(std::string_view name) const {
  const std::size_t c = column_index(name);
  if (c < missing_rows.size() && !missing_rows[c].empty()) {
    const std::size_t row = missing_rows[c].front();
    throw Error(at_line(source, source_lines.at(row)) + "row has no key '" + std::string(name) + "' (" +
                std::to_string(missing_rows[c].size()) + " of " + std::to_string(rows.size()) + " rows lack it)");
  }
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(row[c]);
  return out;
}

TableFormat detect_format(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ascii_lower);
  if (ext == ".csv") return TableFormat::kCsv;
  if (ext == ".tsv") return TableFormat::kTsv;
  if (ext == ".jsonl" || ext == ".ndjson") return TableFormat::kJsonl;
  return TableFormat::kLines;
}

std::string_view format_name(TableFormat format) {
  switch (format) {
    case TableFormat::kAuto:
      return "auto";
    case TableFormat::kCsv:
      return "csv";
    case TableFormat::kTsv:
      return "tsv";
    case TableFormat::kJsonl:
      return "jsonl";
    case TableFormat::kLines:
      return "lines";
  }
  return "unknown";
}

TextTable parse_table(std::string_view contents, TableFormat format, const std::string& source) {
  check_size(contents.size(), source);
  if (format == TableFormat::kAuto) format = detect_format(source);
  contents = strip_bom(contents);
  switch (format) {
    case TableFormat::kCsv:
      return parse_delimited(contents, ',', source);
    case TableFormat::kTsv:
      return parse_delimited(contents, '\t', source);
    case TableFormat::kJsonl:
      return parse_jsonl(contents, source);
    case TableFormat::kLines:
    case TableFormat::kAuto:
      break;
  }
  return parse_lines(contents, source);
}

TextTable read_table(const std::string& path, TableFormat format) {
  const MappedFile file(path);
  check_size(file.size(), path);
  const auto bytes = file.bytes();
  const std::string_view contents(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return parse_table(contents, format, path);
}

std::string resolve_column(const TextTable& table, const std::optional<std::string>& requested,
                           std::span<const std::string_view> candidates, std::string_view option_name) {
  std::string option(option_name);
  if (option.rfind("--", 0) != 0) option = "--" + option;
  const std::string columns = join_quoted(table.columns);

  if (requested) {
    for (const std::string& name : table.columns) {
      if (name == *requested) return name;
    }
    std::vector<std::string> matches;
    for (const std::string& name : table.columns) {
      if (iequals(name, *requested)) matches.push_back(name);
    }
    if (matches.size() == 1) return matches.front();
    if (matches.size() > 1) {
      throw Error(table.source + ": column '" + *requested + "' (" + option +
                  ") matches several columns when case is ignored: " + join_quoted(matches) + "; give the exact name");
    }
    throw Error(table.source + ": no column '" + *requested + "' (" + option + "); the file has columns: " + columns);
  }

  for (const std::string_view candidate : candidates) {
    for (const std::string& name : table.columns) {
      if (iequals(name, candidate)) return name;
    }
  }
  throw Error(table.source + ": found none of the columns " + join_quoted(candidates) +
              "; the file has columns: " + columns + "; choose one with " + option + " <name>");
}

}  // namespace edgeroute::text
