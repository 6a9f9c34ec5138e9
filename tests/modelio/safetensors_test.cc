#include "edgeroute/modelio/safetensors.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tiny_models.h"

namespace edgeroute::modelio {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(EDGEROUTE_TEST_BINARY_DIR) / "scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

TEST(Safetensors, RoundTripsEveryDtype) {
  const SafetensorsWriter writer = testing::all_dtypes_writer();
  const SafetensorsFile file = SafetensorsFile::from_bytes(writer.serialize(), "all_dtypes");
  EXPECT_EQ(file.tensors().size(), writer.size());
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("edgeroute.note"), "unicode \xc3\xa9 and \"quotes\"");

  const auto f64 = file.at("f64").as<double>();
  ASSERT_EQ(f64.size(), 5u);
  EXPECT_EQ(f64[2], 3.141592653589793);
  EXPECT_EQ(f64[4], -std::numeric_limits<double>::infinity());

  const TensorView& matrix = file.at("f32.matrix");
  EXPECT_EQ(matrix.shape, (std::vector<std::int64_t>{6, 8}));
  EXPECT_EQ(matrix.numel(), 48);
  const auto f32 = matrix.as<float>();
  EXPECT_TRUE(std::isnan(f32[1]));
  EXPECT_EQ(f32[2], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(f32[47], 47 * 0.25f - 3.0f);

  const TensorView& scalar = file.at("f32.scalar");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.as<float>()[0], 42.0f);

  const auto f16 = to_float32(file.at("f16"));
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], -0.5f);
  EXPECT_TRUE(std::isinf(f16[2]));
  EXPECT_EQ(f16[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(f16[4]));
  EXPECT_EQ(file.at("f16").as<std::uint16_t>()[4], 0x7e00);

  EXPECT_EQ(to_float32(file.at("bf16")), (std::vector<float>{1.0f, -2.75f, -std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(to_float32(file.at("f64"))[1], -1.5f);

  EXPECT_EQ(file.at("i64").as<std::int64_t>()[0], std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(file.at("i32").as<std::int32_t>()[2], 2147483647);
  EXPECT_EQ(file.at("i16").as<std::int16_t>()[0], -32768);
  EXPECT_EQ(file.at("i8").as<std::int8_t>()[0], -128);
  EXPECT_EQ(file.at("u8").as<std::uint8_t>()[3], 255);
  EXPECT_EQ(file.at("bool").dtype, DType::kBool);
  EXPECT_EQ(file.at("bool").as<std::uint8_t>()[0], 1);
  EXPECT_EQ(file.at("empty.f32").numel(), 0);
  EXPECT_EQ(file.at("empty.f32").shape, (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(file.at("empty.i8").data.empty());
  EXPECT_EQ(file.at("i8.block").as<std::int8_t>()[127], 127);
}

TEST(Safetensors, TypedViewsCheckDtypeAndAlignment) {
  const SafetensorsFile file = SafetensorsFile::from_bytes(testing::all_dtypes_writer().serialize(), "x");
  EXPECT_THROW((void)file.at("f32.matrix").as<double>(), Error);
  EXPECT_THROW((void)file.at("i8").as<std::uint8_t>(), Error);
  EXPECT_THROW((void)file.at("i32").as<std::uint16_t>(), Error);
  EXPECT_THROW((void)to_float32(file.at("i32")), Error);
  try {
    (void)file.at("i64").as<float>();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'i64'"), std::string::npos) << e.what();
  }
  // A hand-made file whose F32 tensor starts at an odd offset.
  std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  while ((8 + header.size()) % 8 != 0) header += ' ';
  std::vector<std::byte> bytes(8 + header.size() + 5);
  bytes[0] = static_cast<std::byte>(header.size());
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  const SafetensorsFile odd = SafetensorsFile::from_bytes(std::move(bytes), "odd");
  EXPECT_THROW((void)odd.at("b").as<float>(), Error);
  EXPECT_EQ(to_float32(odd.at("b")).size(), 1u);  // the copying path needs no alignment
}

TEST(Safetensors, FindAndAt) {
  const SafetensorsFile file = SafetensorsFile::from_bytes(testing::all_dtypes_writer().serialize(), "mem.safetensors");
  EXPECT_NE(file.find("i8"), nullptr);
  EXPECT_EQ(file.find("nope"), nullptr);
  try {
    (void)file.at("nope");
    FAIL();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mem.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("'nope'"), std::string::npos) << what;
  }
  EXPECT_EQ(file.path(), "mem.safetensors");
}

TEST(Safetensors, TensorsAreInOffsetOrder) {
  const SafetensorsFile file = SafetensorsFile::from_bytes(testing::all_dtypes_writer().serialize(), "x");
  std::int64_t previous_end = 0;
  for (const TensorView& t : file.tensors()) {
    EXPECT_EQ(t.offset, previous_end) << t.name;
    previous_end = t.offset + static_cast<std::int64_t>(t.data.size());
  }
}

// The layout rule documented in safetensors.h, checked on a written file.
TEST(Safetensors, WrittenFilesHonourTheAlignmentGuarantee) {
  const fs::path dir = scratch_dir("alignment");
  SafetensorsWriter w = testing::all_dtypes_writer();
  w.add<float>("f32.odd", {3}, std::vector<float>{1, 2, 3});
  w.add<std::int8_t>("i8.odd", {5}, std::vector<std::int8_t>{1, 2, 3, 4, 5});
  w.add<double>("f64.block", {8}, std::vector<double>(8, 1.0));
  const std::string path = (dir / "aligned.safetensors").string();
  w.write(path);
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.data_offset() % kDataAlignment, 0);
  bool in_block_group = true;
  std::int64_t previous_element = 8;
  std::string previous_name;
  for (const TensorView& t : file.tensors()) {
    const std::int64_t at = file.data_offset() + t.offset;
    const bool block = t.data.size() % kDataAlignment == 0;
    if (block) {
      EXPECT_TRUE(in_block_group) << t.name << " (64-multiple) after a non-multiple tensor";
      EXPECT_EQ(at % kDataAlignment, 0) << t.name;
      if (!previous_name.empty()) {
        EXPECT_LT(previous_name, t.name);
      }
      previous_name = t.name;
    } else {
      if (in_block_group) previous_name.clear();
      in_block_group = false;
      const std::int64_t element = dtype_size(t.dtype);
      EXPECT_LE(element, previous_element) << t.name;
      if (element == previous_element && !previous_name.empty()) {
        EXPECT_LT(previous_name, t.name);
      }
      previous_element = element;
      previous_name = t.name;
      EXPECT_EQ(at % element, 0) << t.name;
    }
    // The mapping is page-aligned, so typed views of every tensor work in place.
    if (t.dtype == DType::kF64) {
      EXPECT_NO_THROW((void)t.as<double>());
    }
    if (t.dtype == DType::kI64) {
      EXPECT_NO_THROW((void)t.as<std::int64_t>());
    }
    if (t.dtype == DType::kF32) {
      EXPECT_NO_THROW((void)t.as<float>());
    }
  }
  // Deterministic: the same tensors added in another order give the same bytes.
  SafetensorsWriter a;
  SafetensorsWriter b;
  a.add<float>("x", {2}, std::vector<float>{1, 2});
  a.add<std::int8_t>("y", {3}, std::vector<std::int8_t>{1, 2, 3});
  b.add<std::int8_t>("y", {3}, std::vector<std::int8_t>{1, 2, 3});
  b.add<float>("x", {2}, std::vector<float>{1, 2});
  EXPECT_EQ(a.serialize(), b.serialize());
}

TEST(Safetensors, WriteMatchesSerializeAndLeavesNoTemporary) {
  const fs::path dir = scratch_dir("write");
  const SafetensorsWriter w = testing::all_dtypes_writer();
  const fs::path path = dir / "model.safetensors";
  w.write(path.string());
  EXPECT_EQ(read_bytes(path), w.serialize());
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.tmp"));
  // Overwriting replaces the file.
  SafetensorsWriter small;
  small.add<float>("only", {1}, std::vector<float>{1});
  small.write(path.string());
  EXPECT_EQ(SafetensorsFile::open(path.string()).tensors().size(), 1u);
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.tmp"));
}

TEST(Safetensors, FailedWriteLeavesTheTargetUntouched) {
  const fs::path dir = scratch_dir("atomic");
  const SafetensorsWriter w = testing::all_dtypes_writer();
  try {
    w.write((dir / "missing" / "model.safetensors").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/model.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "missing"));

  // An existing file survives a write that fails: the temporary path is blocked.
  const fs::path path = dir / "keep.safetensors";
  SafetensorsWriter original;
  original.add<float>("old", {1}, std::vector<float>{7});
  original.write(path.string());
  const std::vector<std::byte> before = read_bytes(path);
  fs::create_directory(dir / "keep.safetensors.tmp");
  EXPECT_THROW(w.write(path.string()), Error);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(fs::is_directory(dir / "keep.safetensors.tmp"));  // not ours: not removed
}

TEST(Safetensors, WriterRejectsBadInput) {
  SafetensorsWriter w;
  const std::vector<float> four(4);
  w.add<float>("a", {2, 2}, four);
  EXPECT_THROW(w.add<float>("a", {4}, four), Error);                          // duplicate
  EXPECT_THROW(w.add<float>("", {4}, four), Error);                           // empty name
  EXPECT_THROW(w.add<float>("__metadata__", {4}, four), Error);               // reserved
  EXPECT_THROW(w.add<float>("b", {3}, four), Error);                          // size vs shape
  EXPECT_THROW(w.add<float>("c", {-1, -4}, four), Error);                     // negative dims
  EXPECT_THROW(w.add<float>("d", {1, 1, 1, 1, 1, 1, 1, 1, 4}, four), Error);  // rank 9
  EXPECT_THROW(w.add<float>("e", {std::int64_t{1} << 62, 4}, four), Error);   // overflow
  const std::vector<std::uint16_t> bits(2);
  EXPECT_THROW(w.add("f", DType::kI16, {2}, bits), Error);  // 16-bit overload is for F16/BF16
  EXPECT_EQ(w.size(), 1u);
  SafetensorsWriter bad_utf8;
  bad_utf8.add<float>("\xff\xfe", {1}, std::vector<float>{1});
  EXPECT_THROW((void)bad_utf8.serialize(), Error);
}

TEST(Safetensors, EmptyFileWithOnlyMetadataIsValid) {
  SafetensorsWriter w;
  EXPECT_EQ(SafetensorsFile::from_bytes(w.serialize(), "empty").tensors().size(), 0u);
  w.set_metadata("k", "v");
  w.set_metadata("k", "v2");
  const SafetensorsFile file = SafetensorsFile::from_bytes(w.serialize(), "meta");
  EXPECT_EQ(file.metadata().at("k"), "v2");
}

TEST(Safetensors, ViewsSurviveMovingTheFile) {
  SafetensorsFile file = SafetensorsFile::from_bytes(testing::all_dtypes_writer().serialize(), "x");
  const TensorView* before = file.find("f32.scalar");
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.find("f32.scalar"), before);
  EXPECT_EQ(moved.at("f32.scalar").as<float>()[0], 42.0f);
}

TEST(Safetensors, OpenReportsMissingFiles) {
  EXPECT_THROW((void)SafetensorsFile::open("/nonexistent/model.safetensors"), Error);
}

}  // namespace
}  // namespace edgeroute::modelio
