// Reader for the tabular text files that the trainer, tokenizer and router
// take as input: CSV/TSV with a header row, JSON Lines, and plain text lines.
//
// Every reader returns a TextTable: named columns of UTF-8 (or, for CSV/TSV and
// lines, raw) byte strings, one row per record, and the 1-based line on which
// each record starts so that later stages can point at the offending line.
// All errors are edgeroute::Error with a message "<source>:<line>: <what>"
// (or "<source>: <what>" when no line applies).
//
// Common to all formats
//   * A UTF-8 byte-order mark at the very start is skipped.
//   * Inputs larger than kMaxTableBytes are refused before parsing. Memory use
//     is proportional to the input: roughly the text plus ~32 bytes per cell.
//   * Reading a missing or unreadable file throws an Error naming the path.
//
// CSV (kCsv, separator ',') and TSV (kTsv, separator '\t') -- RFC 4180
//   * The first non-blank record is the header. Column names must be non-empty
//     and unique (exact byte comparison); otherwise Error. An input with no
//     header (empty, BOM only, or only blank lines) is an Error.
//   * Records end at LF, CRLF or a lone CR (as Python's csv module reads a file
//     opened with newline=''). A final record without a line break is fine.
//   * Completely empty lines are skipped, as Python's csv.DictReader does. A
//     line holding only `""` or spaces is a record, not a blank line.
//   * A field that starts with '"' is quoted: it may contain separators, line
//     breaks (kept byte for byte, CRLF and lone CR included) and doubled quotes
//     ("" -> "). After the closing quote the next byte must be a separator, a
//     line break or the end of input; anything else is an Error naming the
//     line. An unterminated quoted field is an Error naming the line where the
//     field began.
//   * Leniency, as Python's csv module with its default (non-strict) dialect:
//     a '"' that is not the first byte of a field is kept literally (a"b is the
//     three bytes a"b), and spaces around fields are kept.
//   * Every record must have as many fields as the header; otherwise Error
//     naming the line and both counts.
//   * Bytes are not validated as UTF-8 (the tokenizer applies its own policy).
//   * Line numbers count LF, CRLF and lone CR as one line break each, inside
//     quoted fields too, which matches Python's csv reader.line_num.
//
// JSON Lines (kJsonl)
//   * Lines are separated by LF; a trailing CR is ignored. Blank lines (only
//     spaces, tabs and CR) are skipped; every other line must hold exactly one
//     JSON object, else Error naming the line.
//   * Columns are the union of the keys in order of first appearance. String
//     values are taken as decoded UTF-8; numbers keep their JSON spelling
//     (integers are printed in decimal); true/false become "true"/"false";
//     null becomes "". Nested objects or arrays are an Error naming the line
//     and key. A key repeated within one object is an Error.
//   * Invalid JSON or invalid UTF-8 is an Error naming the line.
//   * A row that lacks a key other rows have gets an empty cell and is recorded
//     in TextTable::missing_rows; TextTable::column() on that column throws an
//     Error naming the first line that lacks the key. Input with no object at
//     all is an Error (there are no columns).
//
// Plain lines (kLines)
//   * One column, "text". Every LF-terminated line is one row, in order, with
//     one trailing CR removed; empty lines are kept (not skipped) so that a
//     command that prints one output per input line stays aligned with its
//     input. Only the empty piece after a final LF is not a row; an empty
//     input gives zero rows.
//
// Thread-safety: the functions are reentrant; a TextTable is a plain value.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgeroute::text {

enum class TableFormat { kAuto, kCsv, kTsv, kJsonl, kLines };

// Inputs above this many bytes (2 GiB) are refused with an Error.
inline constexpr std::size_t kMaxTableBytes = std::size_t{2} << 30;

struct TextTable {
  // Path or other name of the input, used only in messages.
  std::string source;
  // Column names in header order (JSONL: order of first appearance; lines:
  // {"text"}). Non-empty and unique.
  std::vector<std::string> columns;
  // rows[r][c] is the cell of row r in column c; every row has columns.size()
  // cells.
  std::vector<std::vector<std::string>> rows;
  // 1-based line on which rows[r] starts; same size as rows.
  std::vector<std::size_t> source_lines;
  // JSONL only: missing_rows[c] lists, ascending, the indices of the rows that
  // lacked column c (their cell is ""). Either empty or one entry per column.
  std::vector<std::vector<std::size_t>> missing_rows;

  // Index of the column named exactly `name`. Throws Error naming the source
  // and listing the available columns when there is none.
  std::size_t column_index(std::string_view name) const;

  // Copy of the cells of column `name`, one per row. Throws like column_index,
  // and throws an Error naming the first line that lacks the key when some
  // JSONL rows did not have it.
  std::vector<std::string> column(std::string_view name) const;
};

// Guesses the format from the extension, ASCII case-insensitively: .csv -> kCsv,
// .tsv -> kTsv, .jsonl/.ndjson -> kJsonl, anything else -> kLines.
TableFormat detect_format(const std::string& path);

// "auto", "csv", "tsv", "jsonl" or "lines", for messages.
std::string_view format_name(TableFormat format);

// Reads and parses the file at `path`. kAuto uses detect_format(path).
TextTable read_table(const std::string& path, TableFormat format = TableFormat::kAuto);

// Parses `contents`; `source` names the input in messages and, for kAuto, is
// passed to detect_format.
TextTable parse_table(std::string_view contents, TableFormat format, const std::string& source);

// Chooses a column and returns its name as spelled in the table.
//   * `requested` given: the column with exactly that name, else the single
//     column that equals it ASCII case-insensitively; else Error naming the
//     request, `--<option_name>` and listing the columns (also when the
//     case-insensitive match is ambiguous).
//   * otherwise: for each candidate in order, the first column that equals it
//     case-insensitively; else Error saying which names were tried, which
//     columns the file has, and to choose one with `--<option_name>`.
// `option_name` may be given with or without the leading "--".
std::string resolve_column(const TextTable& table, const std::optional<std::string>& requested,
                           std::span<const std::string_view> candidates, std::string_view option_name);

// Default names tried for the text and label columns, most common first.
inline constexpr std::array<std::string_view, 6> kTextColumnCandidates = {"text",    "transcript", "utterance",
                                                                          "message", "sentence",   "query"};
inline constexpr std::array<std::string_view, 5> kLabelColumnCandidates = {"label", "category", "sentiment", "intent",
                                                                           "class"};

}  // namespace edgeroute::text
