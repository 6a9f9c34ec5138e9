// Every malformed file must be rejected with edgeroute::Error naming the file
// and the problem; none may crash (run under ASan+UBSan too).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeroute/modelio/safetensors.h"
#include "tiny_models.h"

namespace edgeroute::modelio {
namespace {

constexpr std::uint64_t kUseHeaderSize = std::numeric_limits<std::uint64_t>::max() - 1;

std::vector<std::byte> make_file(const std::string& header, std::size_t data_bytes,
                                 std::uint64_t length = kUseHeaderSize) {
  const std::uint64_t n = length == kUseHeaderSize ? header.size() : length;
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0x5a});
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

// A valid 4-element F32 tensor named "a" occupying bytes [0, 16).
const std::string kA = entry("a", "\"F32\"", "[4]", "[0,16]");

struct CorruptCase {
  std::string label;
  std::vector<std::byte> bytes;
  std::string expected;  // must appear in the message
};

std::vector<CorruptCase> corpus() {
  std::vector<CorruptCase> c;
  const auto add = [&](std::string label, std::vector<std::byte> bytes, std::string expected) {
    c.push_back({std::move(label), std::move(bytes), std::move(expected)});
  };
  const auto json = [&](std::string label, const std::string& header, std::size_t data, std::string expected) {
    add(std::move(label), make_file(header, data), std::move(expected));
  };
  add("empty_file", {}, "shorter than the 8-byte");
  add("seven_bytes", std::vector<std::byte>(7), "shorter than the 8-byte");
  add("header_length_zero", make_file("", 16, 0), "header length is 0");
  add("header_length_over_limit", make_file("{}", 0, kMaxHeaderBytes + 1), "exceeds the limit");
  add("header_length_max_u64", make_file("{}", 0, std::numeric_limits<std::uint64_t>::max()), "exceeds the limit");
  add("header_length_past_eof", make_file("{}", 0, 3), "runs past the end of the file");
  json("leading_space", " {}", 0, "does not start with '{'");
  json("header_is_array", "[]", 0, "does not start with '{'");
  json("not_json", "{not json}", 0, "not valid JSON");
  json("truncated_json", "{\"a\":", 0, "not valid JSON");
  json("invalid_utf8_key", "{\"\xff\":{}}", 0, "not valid JSON");
  add("nul_in_header", make_file(std::string("{}\0 ", 4), 0), "header contains a NUL byte");
  json("trailing_garbage", "{} x", 0, "not valid JSON");
  json("duplicate_tensor", "{" + kA + "," + entry("a", "\"F32\"", "[4]", "[16,32]") + "}", 32,
       "duplicate tensor name 'a'");
  json("duplicate_field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
       "duplicate JSON key 'dtype'");
  json("entry_not_object", "{\"a\":5}", 0, "tensor 'a': entry is not a JSON object");
  json("missing_dtype", "{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "tensor 'a': missing field 'dtype'");
  json("missing_shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, "missing field 'shape'");
  json("missing_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, "missing field 'data_offsets'");
  json("extra_field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"extra\":1}}", 16,
       "unexpected field 'extra'");
  json("unknown_dtype", "{" + entry("a", "\"F8_E4M3\"", "[4]", "[0,4]") + "}", 4, "unknown dtype 'F8_E4M3'");
  json("dtype_not_string", "{" + entry("a", "4", "[4]", "[0,16]") + "}", 16, "dtype is not a string");
  json("shape_not_array", "{" + entry("a", "\"F32\"", "4", "[0,16]") + "}", 16, "shape is not an array");
  json("negative_dim", "{" + entry("a", "\"F32\"", "[-4]", "[0,16]") + "}", 16, "non-negative integers");
  json("float_dim", "{" + entry("a", "\"F32\"", "[4.0]", "[0,16]") + "}", 16, "non-negative integers");
  json("dim_over_int64", "{" + entry("a", "\"U8\"", "[9223372036854775808]", "[0,1]") + "}", 1,
       "non-negative integers");
  json("string_dim", "{" + entry("a", "\"F32\"", "[\"4\"]", "[0,16]") + "}", 16, "non-negative integers");
  json("rank_nine", "{" + entry("a", "\"F32\"", "[1,1,1,1,1,1,1,1,4]", "[0,16]") + "}", 16, "rank 9 exceeds");
  json("nested_shape", "{" + entry("a", "\"F32\"", "[[4]]", "[0,16]") + "}", 16, "nests JSON deeper");
  json("numel_overflow", "{" + entry("a", "\"U8\"", "[4294967296,4294967296]", "[0,1]") + "}", 1,
       "element count of shape [4294967296,4294967296] overflows int64");
  json("bytes_overflow", "{" + entry("a", "\"F64\"", "[2305843009213693952]", "[0,8]") + "}", 8,
       "byte count of shape [2305843009213693952] overflows int64");
  json("offsets_not_array", "{" + entry("a", "\"F32\"", "[4]", "16") + "}", 16, "is not two non-negative integers");
  json("offsets_three", "{" + entry("a", "\"F32\"", "[4]", "[0,16,32]") + "}", 16, "is not two non-negative integers");
  json("offsets_negative", "{" + entry("a", "\"F32\"", "[4]", "[-16,0]") + "}", 16, "is not two non-negative integers");
  json("offsets_huge", "{" + entry("a", "\"F32\"", "[4]", "[0,18446744073709551615]") + "}", 16,
       "is not two non-negative integers");
  json("offsets_begin_after_end", "{" + entry("a", "\"F32\"", "[1]", "[8,4]") + "}", 16, "begin 8 > end 4");
  json("offsets_past_buffer", "{" + entry("a", "\"F32\"", "[4]", "[0,16]") + "}", 12,
       "end 16 is past the end of the data buffer (12 bytes)");
  json("size_mismatch", "{" + entry("a", "\"F32\"", "[4]", "[0,12]") + "}", 12, "needs 16");
  json("overlap", "{" + kA + "," + entry("b", "\"F32\"", "[2]", "[8,16]") + "}", 16, "overlaps tensor 'a'");
  json("zero_size_inside_other", "{" + kA + "," + entry("z", "\"F32\"", "[0]", "[4,4]") + "}", 16,
       "tensor 'z' at data_offsets 4 overlaps tensor 'a'");
  json("gap_between", "{" + kA + "," + entry("b", "\"F32\"", "[1]", "[20,24]") + "}", 24,
       "gap in the data buffer: bytes [16, 20)");
  json("gap_at_start", "{" + entry("a", "\"F32\"", "[1]", "[4,8]") + "}", 8, "gap in the data buffer: bytes [0, 4)");
  json("trailing_bytes", "{" + kA + "}", 20, "not fully covered: bytes [16, 20)");
  json("metadata_not_object", "{\"__metadata__\":[1]," + kA + "}", 16, "__metadata__ is not a JSON object");
  json("metadata_not_string", "{\"__metadata__\":{\"k\":1}," + kA + "}", 16,
       "__metadata__ value of 'k' is not a string");
  json("metadata_nested", "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}," + kA + "}", 16,
       "__metadata__ value of 'k' is not a string");
  json("empty_name", "{" + entry("", "\"F32\"", "[4]", "[0,16]") + "}", 16, "empty tensor name");
  json("control_char_name_quoted", "{" + entry("a\\u0001", "\"F32\"", "[4]", "[0,12]") + "}", 16, "'a\\x01'");
  return c;
}

TEST(CorruptCorpus, EveryCaseIsRejectedWithANamedError) {
  const std::vector<CorruptCase> cases = corpus();
  ASSERT_GE(cases.size(), 30u);
  for (const CorruptCase& c : cases) {
    const std::string source = "corpus/" + c.label + ".safetensors";
    try {
      (void)SafetensorsFile::from_bytes(c.bytes, source);
      ADD_FAILURE() << c.label << ": accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(source), std::string::npos) << c.label << ": " << what;
      EXPECT_NE(what.find(c.expected), std::string::npos)
          << c.label << ": expected '" << c.expected << "' in: " << what;
    }
  }
}

TEST(CorruptCorpus, ValidControlFilesAreAccepted) {
  // The same builders produce files that are accepted, so the corpus fails
  // for the reason it names and not for a builder mistake.
  EXPECT_NO_THROW((void)SafetensorsFile::from_bytes(make_file("{" + kA + "}", 16), "ok1"));
  EXPECT_NO_THROW((void)SafetensorsFile::from_bytes(make_file("{}", 0), "ok2"));
  EXPECT_NO_THROW((void)SafetensorsFile::from_bytes(make_file("{" + kA + "}    ", 16), "ok3"));
  EXPECT_NO_THROW((void)SafetensorsFile::from_bytes(
      make_file("{\"__metadata__\":{\"k\":\"v\"}," + kA + "," + entry("z", "\"F32\"", "[0]", "[16,16]") + "}", 16),
      "ok4"));
  EXPECT_NO_THROW(
      (void)SafetensorsFile::from_bytes(make_file("{" + entry("s", "\"I64\"", "[]", "[0,8]") + "}", 8), "ok5"));
}

TEST(CorruptCorpus, EveryTruncationIsRejected) {
  const std::vector<std::byte> valid = testing::all_dtypes_writer().serialize();
  ASSERT_NO_THROW((void)SafetensorsFile::from_bytes(valid, "full"));
  for (std::size_t size = 0; size < valid.size(); ++size) {
    const std::vector<std::byte> cut(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_THROW((void)SafetensorsFile::from_bytes(cut, "cut"), Error) << "truncated at " << size;
  }
}

// Flipped header bytes either still describe a valid file or are rejected
// with Error; anything else (crash, other exception) fails.
TEST(CorruptCorpus, FlippedHeaderBytesNeverCrash) {
  const std::vector<std::byte> valid = testing::all_dtypes_writer().serialize();
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(valid[static_cast<std::size_t>(i)]);
  int rejected = 0;
  for (std::size_t pos = 0; pos < 8 + n; ++pos) {
    for (const std::uint8_t mask : {0x01, 0x08, 0x20, 0x80}) {
      std::vector<std::byte> bytes = valid;
      bytes[pos] ^= std::byte{mask};
      try {
        (void)SafetensorsFile::from_bytes(std::move(bytes), "flip");
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(CorruptCorpus, RandomMutationsNeverCrash) {
  const std::vector<std::byte> valid = testing::all_dtypes_writer().serialize();
  std::mt19937 rng(12345);
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> bytes = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % bytes.size();
      bytes[pos] = static_cast<std::byte>(rng() & 0xff);
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    try {
      const SafetensorsFile file = SafetensorsFile::from_bytes(std::move(bytes), "mutant");
      for (const TensorView& t : file.tensors()) {
        if (is_float_dtype(t.dtype)) (void)to_float32(t);
      }
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace edgeroute::modelio
