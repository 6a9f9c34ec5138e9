#include "edgeroute/text/table.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"

namespace edgeroute::text {
namespace {

using Rows = std::vector<std::vector<std::string>>;
using Strings = std::vector<std::string>;

// Runs `fn`, expects an edgeroute::Error, and returns its message.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected edgeroute::Error";
  return {};
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("edgeroute_table_test_" + std::to_string(::getpid()) + "_" + name);
}

// ---------------------------------------------------------------------------
// CSV: accepted inputs

struct CsvCase {
  const char* name;
  std::string input;
  Strings columns;
  Rows rows;
  std::vector<std::size_t> lines;
};

void PrintTo(const CsvCase& c, std::ostream* os) { *os << c.name; }

class CsvAccepts : public ::testing::TestWithParam<CsvCase> {};

TEST_P(CsvAccepts, ParsesColumnsRowsAndLines) {
  const CsvCase& c = GetParam();
  const TextTable t = parse_table(c.input, TableFormat::kCsv, "in.csv");
  EXPECT_EQ(t.source, "in.csv");
  EXPECT_EQ(t.columns, c.columns);
  EXPECT_EQ(t.rows, c.rows);
  EXPECT_EQ(t.source_lines, c.lines);
  for (const auto& row : t.rows) EXPECT_EQ(row.size(), t.columns.size());
}

INSTANTIATE_TEST_SUITE_P(
    Table, CsvAccepts,
    ::testing::Values(
        CsvCase{"simple", "a,b\n1,2\n3,4\n", {"a", "b"}, {{"1", "2"}, {"3", "4"}}, {2, 3}},
        CsvCase{"no_final_newline", "a,b\n1,2", {"a", "b"}, {{"1", "2"}}, {2}},
        CsvCase{"header_only", "a,b\n", {"a", "b"}, {}, {}},
        CsvCase{"crlf", "a,b\r\n1,2\r\n3,4\r\n", {"a", "b"}, {{"1", "2"}, {"3", "4"}}, {2, 3}},
        CsvCase{"lone_cr_ends_record", "a,b\r1,2\r", {"a", "b"}, {{"1", "2"}}, {2}},
        CsvCase{"bom", "\xEF\xBB\xBFtext,label\nhi,x\n", {"text", "label"}, {{"hi", "x"}}, {2}},
        CsvCase{"quoted_separator", "a,b\n\"x,y\",2\n", {"a", "b"}, {{"x,y", "2"}}, {2}},
        CsvCase{"doubled_quotes", "a,b\n\"say \"\"hi\"\"\",2\n", {"a", "b"}, {{"say \"hi\"", "2"}}, {2}},
        CsvCase{"only_doubled_quote", "a\n\"\"\"\"\n", {"a"}, {{"\""}}, {2}},
        CsvCase{"embedded_lf", "a,b\n\"l1\nl2\",2\n3,4\n", {"a", "b"}, {{"l1\nl2", "2"}, {"3", "4"}}, {2, 4}},
        CsvCase{"embedded_crlf_kept", "a,b\r\n\"l1\r\nl2\",2\r\n", {"a", "b"}, {{"l1\r\nl2", "2"}}, {2}},
        CsvCase{"embedded_bare_cr_kept", "a,b\n\"l1\rl2\",2\n", {"a", "b"}, {{"l1\rl2", "2"}}, {2}},
        CsvCase{"quote_inside_unquoted_kept", "a,b\nsay \"hi\",5\"\n", {"a", "b"}, {{"say \"hi\"", "5\""}}, {2}},
        CsvCase{"spaces_kept", "a,b\n  x , \"y\"\n", {"a", "b"}, {{"  x ", " \"y\""}}, {2}},
        CsvCase{"empty_fields", "a,b,c\n,,\n\"\",x,\n", {"a", "b", "c"}, {{"", "", ""}, {"", "x", ""}}, {2, 3}},
        CsvCase{"blank_lines_skipped", "\n\na,b\n\n1,2\r\n\r\n3,4\n\n", {"a", "b"}, {{"1", "2"}, {"3", "4"}}, {5, 7}},
        CsvCase{"quoted_empty_is_a_row", "a\n\"\"\n", {"a"}, {{""}}, {2}},
        CsvCase{"quoted_header", "\"a,1\",b\n1,2\n", {"a,1", "b"}, {{"1", "2"}}, {2}},
        CsvCase{"trailing_separator_at_eof", "a,b\n1,", {"a", "b"}, {{"1", ""}}, {2}},
        CsvCase{"quoted_field_at_eof", "a,b\n1,\"2\"", {"a", "b"}, {{"1", "2"}}, {2}},
        CsvCase{"non_utf8_bytes_kept", "a\n\xFF\xFE\n", {"a"}, {{"\xFF\xFE"}}, {2}},
        CsvCase{"nul_byte_kept", std::string("a\nx\0y\n", 6), {"a"}, {{std::string("x\0y", 3)}}, {2}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(Tsv, UsesTabAndQuotes) {
  const TextTable t = parse_table("text\tlabel\nhello, world\tgreet\n\"a\tb\"\tx\n", TableFormat::kTsv, "in.tsv");
  EXPECT_EQ(t.columns, (Strings{"text", "label"}));
  EXPECT_EQ(t.rows, (Rows{{"hello, world", "greet"}, {"a\tb", "x"}}));
}

// ---------------------------------------------------------------------------
// CSV: rejected inputs

struct CsvErrorCase {
  const char* name;
  std::string input;
  std::vector<std::string> fragments;  // each must appear in the message
};

void PrintTo(const CsvErrorCase& c, std::ostream* os) { *os << c.name; }

class CsvRejects : public ::testing::TestWithParam<CsvErrorCase> {};

TEST_P(CsvRejects, ThrowsWithSourceAndDetails) {
  const CsvErrorCase& c = GetParam();
  const std::string msg = error_of([&] { parse_table(c.input, TableFormat::kCsv, "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv"), std::string::npos) << msg;
  for (const std::string& f : c.fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CsvRejects,
    ::testing::Values(
        CsvErrorCase{"empty", "", {"no header"}}, CsvErrorCase{"bom_only", "\xEF\xBB\xBF", {"no header"}},
        CsvErrorCase{"blank_lines_only", "\n\r\n\n", {"no header"}},
        CsvErrorCase{"duplicate_column", "a,b,a\n1,2,3\n", {"bad.csv:1:", "'a'", "twice"}},
        CsvErrorCase{"empty_column_name", "a,,c\n", {"bad.csv:1:", "column 2", "empty name"}},
        CsvErrorCase{"too_many_fields", "a,b\n1,2\n1,2,3\n", {"bad.csv:3:", "3 fields", "2 columns", "line 1"}},
        CsvErrorCase{"too_few_fields", "a,b\n1\n", {"bad.csv:2:", "1 fields", "2 columns"}},
        CsvErrorCase{"ragged_after_multiline_field", "a,b\n\"x\ny\",1\n\n5\n", {"bad.csv:5:", "1 fields"}},
        CsvErrorCase{"unterminated_at_eof", "a,b\n1,2\n3,\"abc\n4,5\n", {"bad.csv:3:", "not terminated"}},
        CsvErrorCase{"unterminated_in_header", "\"a,b\n", {"bad.csv:1:", "not terminated"}},
        CsvErrorCase{"text_after_closing_quote", "a,b\n1,2\n\"x\"y,2\n", {"bad.csv:3:", "after the closing quote"}},
        CsvErrorCase{
            "text_after_quote_on_later_line", "a,b\n\"x\n\ny\"z,2\n", {"bad.csv:4:", "after the closing quote"}}),
    [](const auto& p) { return std::string(p.param.name); });

// ---------------------------------------------------------------------------
// Plain lines

struct LinesCase {
  const char* name;
  std::string input;
  Strings texts;
  std::vector<std::size_t> lines;
};

void PrintTo(const LinesCase& c, std::ostream* os) { *os << c.name; }

class LinesParse : public ::testing::TestWithParam<LinesCase> {};

TEST_P(LinesParse, KeepsEveryLineInOrder) {
  const LinesCase& c = GetParam();
  const TextTable t = parse_table(c.input, TableFormat::kLines, "in.txt");
  EXPECT_EQ(t.columns, (Strings{"text"}));
  EXPECT_EQ(t.column("text"), c.texts);
  EXPECT_EQ(t.source_lines, c.lines);
}

INSTANTIATE_TEST_SUITE_P(
    Table, LinesParse,
    ::testing::Values(LinesCase{"empty_input", "", {}, {}}, LinesCase{"one_without_newline", "hello", {"hello"}, {1}},
                      LinesCase{"final_newline_not_a_row", "a\nb\n", {"a", "b"}, {1, 2}},
                      LinesCase{"empty_lines_kept", "a\n\n\nb\n", {"a", "", "", "b"}, {1, 2, 3, 4}},
                      LinesCase{"only_newline", "\n", {""}, {1}}, LinesCase{"two_newlines", "\n\n", {"", ""}, {1, 2}},
                      LinesCase{"crlf", "a\r\n\r\nb\r\n", {"a", "", "b"}, {1, 2, 3}},
                      LinesCase{"inner_cr_kept", "a\rb\r\n", {"a\rb"}, {1}},
                      LinesCase{"bom", "\xEF\xBB\xBFx\ny", {"x", "y"}, {1, 2}},
                      LinesCase{"quotes_and_commas_literal", "\"a\",b\n", {"\"a\",b"}, {1}},
                      LinesCase{"non_utf8_kept", "\xC3\x28\n", {"\xC3\x28"}, {1}}),
    [](const auto& p) { return std::string(p.param.name); });

// ---------------------------------------------------------------------------
// JSON Lines

TEST(Jsonl, ValueTypesAndKeyOrder) {
  const TextTable t = parse_table(
      "{\"text\": \"caf\\u00e9 \\\"x\\\"\\n\", \"n\": 42, \"f\": 1.50, \"e\": 1E5, "
      "\"neg\": -7, \"big\": 18446744073709551615, \"t\": true, \"b\": false, \"z\": null}\n",
      TableFormat::kJsonl, "in.jsonl");
  EXPECT_EQ(t.columns, (Strings{"text", "n", "f", "e", "neg", "big", "t", "b", "z"}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0],
            (Strings{"caf\xC3\xA9 \"x\"\n", "42", "1.50", "1E5", "-7", "18446744073709551615", "true", "false", ""}));
  EXPECT_EQ(t.source_lines, (std::vector<std::size_t>{1}));
}

TEST(Jsonl, UnionOfKeysAndMissingCells) {
  const std::string input =
      "\xEF\xBB\xBF{\"text\":\"a\",\"label\":\"x\"}\r\n"
      "\n"
      "   \n"
      "{\"label\":\"y\",\"text\":\"b\",\"id\":3}\n"
      "{\"text\":\"c\"}";
  const TextTable t = parse_table(input, TableFormat::kJsonl, "in.jsonl");
  EXPECT_EQ(t.columns, (Strings{"text", "label", "id"}));
  EXPECT_EQ(t.rows, (Rows{{"a", "x", ""}, {"b", "y", "3"}, {"c", "", ""}}));
  EXPECT_EQ(t.source_lines, (std::vector<std::size_t>{1, 4, 5}));
  ASSERT_EQ(t.missing_rows.size(), 3u);
  EXPECT_TRUE(t.missing_rows[0].empty());
  EXPECT_EQ(t.missing_rows[1], (std::vector<std::size_t>{2}));
  EXPECT_EQ(t.missing_rows[2], (std::vector<std::size_t>{0, 2}));

  EXPECT_EQ(t.column("text"), (Strings{"a", "b", "c"}));
  const std::string label = error_of([&] { t.column("label"); });
  EXPECT_NE(label.find("in.jsonl:5:"), std::string::npos) << label;
  EXPECT_NE(label.find("'label'"), std::string::npos) << label;
  const std::string id = error_of([&] { t.column("id"); });
  EXPECT_NE(id.find("in.jsonl:1:"), std::string::npos) << id;
}

TEST(Jsonl, NullIsPresentNotMissing) {
  const TextTable t = parse_table("{\"a\":null}\n{\"a\":\"x\"}\n", TableFormat::kJsonl, "in.jsonl");
  EXPECT_EQ(t.column("a"), (Strings{"", "x"}));
}

struct JsonlErrorCase {
  const char* name;
  std::string input;
  std::vector<std::string> fragments;
};

void PrintTo(const JsonlErrorCase& c, std::ostream* os) { *os << c.name; }

class JsonlRejects : public ::testing::TestWithParam<JsonlErrorCase> {};

TEST_P(JsonlRejects, ThrowsWithLine) {
  const JsonlErrorCase& c = GetParam();
  const std::string msg = error_of([&] { parse_table(c.input, TableFormat::kJsonl, "bad.jsonl"); });
  for (const std::string& f : c.fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Table, JsonlRejects,
    ::testing::Values(
        JsonlErrorCase{"empty", "", {"bad.jsonl:", "no JSON objects"}},
        JsonlErrorCase{"blank_only", "\n  \n", {"bad.jsonl:", "no JSON objects"}},
        JsonlErrorCase{"array_line", "{\"a\":1}\n[1,2]\n", {"bad.jsonl:2:", "JSON object"}},
        JsonlErrorCase{"scalar_line", "\"text\"\n", {"bad.jsonl:1:", "JSON object"}},
        JsonlErrorCase{
            "nested_object", "{\"a\":1}\n\n{\"a\":2,\"meta\":{\"x\":1}}\n", {"bad.jsonl:3:", "'meta'", "object"}},
        JsonlErrorCase{"nested_array", "{\"tags\":[\"x\"]}\n", {"bad.jsonl:1:", "'tags'", "array"}},
        JsonlErrorCase{"syntax_error", "{\"a\":1}\n{\"a\":}\n", {"bad.jsonl:2:", "invalid JSON"}},
        JsonlErrorCase{"truncated", "{\"a\":\"x", {"bad.jsonl:1:", "invalid JSON"}},
        JsonlErrorCase{"two_objects_on_a_line", "{\"a\":1} {\"a\":2}\n", {"bad.jsonl:1:", "invalid JSON"}},
        JsonlErrorCase{
            "invalid_utf8", "{\"a\":\"ok\"}\n{\"a\":\"\xFF\"}\n", {"bad.jsonl:2:", "invalid JSON", "UTF-8", "\\xFF"}},
        JsonlErrorCase{"duplicate_key", "{\"a\":1,\"a\":2}\n", {"bad.jsonl:1:", "'a'", "twice"}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(Jsonl, RefusesKeyExplosion) {
  // Every line adds a new key, so padding would grow quadratically.
  std::string input;
  for (int i = 0; i < 3000; ++i) input += "{\"k" + std::to_string(i) + "\":1}\n";
  const std::string msg = error_of([&] { parse_table(input, TableFormat::kJsonl, "x.jsonl"); });
  EXPECT_NE(msg.find("too large"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------
// Columns

TextTable make_table(Strings columns) {
  TextTable t;
  t.source = "t.csv";
  t.columns = std::move(columns);
  return t;
}

TEST(ColumnIndex, FindsExactAndListsColumnsOnFailure) {
  const TextTable t = parse_table("text,label\nhi,x\n", TableFormat::kCsv, "t.csv");
  EXPECT_EQ(t.column_index("label"), 1u);
  EXPECT_EQ(t.column("label"), (Strings{"x"}));
  const std::string msg = error_of([&] { t.column_index("Label"); });
  EXPECT_NE(msg.find("t.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'Label'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'text', 'label'"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { t.column("nope"); }).find("'text', 'label'"), std::string::npos);
}

struct ResolveCase {
  const char* name;
  Strings columns;
  std::optional<std::string> requested;
  std::string expected;
};

void PrintTo(const ResolveCase& c, std::ostream* os) { *os << c.name; }

class ResolveColumn : public ::testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveColumn, Picks) {
  const ResolveCase& c = GetParam();
  EXPECT_EQ(resolve_column(make_table(c.columns), c.requested, kTextColumnCandidates, "text-column"), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolveColumn,
    ::testing::Values(ResolveCase{"requested_exact", {"a", "Body", "body"}, "body", "body"},
                      ResolveCase{"requested_case_insensitive", {"a", "Body"}, "body", "Body"},
                      ResolveCase{"requested_wins_over_candidates", {"text", "body"}, "body", "body"},
                      ResolveCase{"first_candidate", {"id", "text"}, std::nullopt, "text"},
                      ResolveCase{"candidate_case_insensitive", {"id", "TEXT"}, std::nullopt, "TEXT"},
                      ResolveCase{
                          "candidate_order_not_column_order", {"query", "utterance"}, std::nullopt, "utterance"},
                      ResolveCase{"later_candidate", {"id", "Sentence"}, std::nullopt, "Sentence"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(ResolveColumnErrors, RequestedMissingNamesOptionAndColumns) {
  const TextTable t = make_table({"id", "body"});
  const std::string msg =
      error_of([&] { resolve_column(t, std::string("text"), kTextColumnCandidates, "text-column"); });
  EXPECT_NE(msg.find("t.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'text'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--text-column"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'id', 'body'"), std::string::npos) << msg;
}

TEST(ResolveColumnErrors, AmbiguousCaseInsensitiveRequest) {
  const TextTable t = make_table({"Text", "TEXT"});
  const std::string msg =
      error_of([&] { resolve_column(t, std::string("text"), kTextColumnCandidates, "text-column"); });
  EXPECT_NE(msg.find("'Text', 'TEXT'"), std::string::npos) << msg;
}

TEST(ResolveColumnErrors, NoCandidateSaysWhatWasTriedAndHowToChoose) {
  const TextTable t = make_table({"id", "body"});
  const std::string msg = error_of([&] { resolve_column(t, std::nullopt, kLabelColumnCandidates, "--label-column"); });
  EXPECT_NE(msg.find("t.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'label', 'category', 'sentiment', 'intent', 'class'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'id', 'body'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--label-column"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("----"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------
// Formats and files

TEST(DetectFormat, ByExtension) {
  const std::vector<std::pair<std::string, TableFormat>> cases = {
      {"a.csv", TableFormat::kCsv},     {"dir.x/A.CSV", TableFormat::kCsv}, {"a.tsv", TableFormat::kTsv},
      {"a.jsonl", TableFormat::kJsonl}, {"a.ndjson", TableFormat::kJsonl},  {"a.JsonL", TableFormat::kJsonl},
      {"a.txt", TableFormat::kLines},   {"a", TableFormat::kLines},         {"a.json", TableFormat::kLines},
      {"csv", TableFormat::kLines},     {"a.csv.gz", TableFormat::kLines},  {"/dev/stdin", TableFormat::kLines},
  };
  for (const auto& [path, format] : cases) {
    EXPECT_EQ(detect_format(path), format) << path;
  }
  EXPECT_EQ(format_name(TableFormat::kJsonl), "jsonl");
}

TEST(ParseTable, AutoUsesSourceExtension) {
  EXPECT_EQ(parse_table("a,b\n1,2\n", TableFormat::kAuto, "x.csv").columns, (Strings{"a", "b"}));
  EXPECT_EQ(parse_table("a,b\n1,2\n", TableFormat::kAuto, "x.txt").rows, (Rows{{"a,b"}, {"1,2"}}));
}

TEST(ReadTable, ReadsARealFile) {
  const auto path = temp_path("read.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "\xEF\xBB\xBFtext,label\r\n\"multi\r\nline\",a\r\nplain,b";
  }
  const TextTable t = read_table(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(t.source, path.string());
  EXPECT_EQ(t.columns, (Strings{"text", "label"}));
  EXPECT_EQ(t.rows, (Rows{{"multi\r\nline", "a"}, {"plain", "b"}}));
  EXPECT_EQ(t.source_lines, (std::vector<std::size_t>{2, 4}));
}

TEST(ReadTable, ExplicitFormatOverridesExtension) {
  const auto path = temp_path("lines.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "a,b\n\n";
  }
  const TextTable t = read_table(path.string(), TableFormat::kLines);
  std::filesystem::remove(path);
  EXPECT_EQ(t.column("text"), (Strings{"a,b", ""}));
}

TEST(ReadTable, MissingFileNamesPath) {
  const std::string path = temp_path("does_not_exist.csv").string();
  const std::string msg = error_of([&] { read_table(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(ReadTable, RefusesInputsOver2GiB) {
  // A sparse file: no disk space is used and nothing is parsed.
  const auto path = temp_path("huge.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "a\n";
  }
  std::error_code ec;
  std::filesystem::resize_file(path, kMaxTableBytes + 1, ec);
  if (ec) {
    std::filesystem::remove(path);
    GTEST_SKIP() << "cannot create a sparse file of " << kMaxTableBytes + 1 << " bytes: " << ec.message();
  }
  const std::string msg = error_of([&] { read_table(path.string()); });
  std::filesystem::remove(path);
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 GiB"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------
// Real data (ctest label "real"); skipped when the shared data is absent.

std::string shared_data(const std::string& relative) { return std::string(EDGEROUTE_SHARED_DATA) + "/" + relative; }

TEST(RealData, Banking77Train) {
  const std::string path = shared_data("banking77/train.csv");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "real data absent: " << path;
  const TextTable t = read_table(path);
  EXPECT_EQ(t.columns, (Strings{"text", "category"}));
  EXPECT_EQ(t.rows.size(), 10003u);
  EXPECT_EQ(resolve_column(t, std::nullopt, kTextColumnCandidates, "text-column"), "text");
  EXPECT_EQ(resolve_column(t, std::nullopt, kLabelColumnCandidates, "label-column"), "category");
}

TEST(RealData, AirlineSentimentTrain) {
  const std::string path = shared_data("airline-sentiment/train.csv");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "real data absent: " << path;
  const TextTable t = read_table(path);
  EXPECT_EQ(t.rows.size(), 11611u);
  EXPECT_NO_THROW(t.column_index("text"));
  EXPECT_NO_THROW(t.column_index("label"));
  EXPECT_EQ(resolve_column(t, std::nullopt, kLabelColumnCandidates, "label-column"), "label");
}

}  // namespace
}  // namespace edgeroute::text
