#include "edgeroute/common/mapped_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "edgeroute/common/error.h"

namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
  return fs::path(EDGEROUTE_TEST_BINARY_DIR) / ("mapped_file_test_" + name);
}

TEST(MappedFile, MapsContents) {
  const fs::path p = temp_path("contents");
  { std::ofstream(p, std::ios::binary) << "hello"; }
  edgeroute::MappedFile f(p.string());
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(static_cast<char>(f.bytes()[4]), 'o');
  fs::remove(p);
}

TEST(MappedFile, EmptyFileIsEmptySpan) {
  const fs::path p = temp_path("empty");
  { std::ofstream(p, std::ios::binary); }
  edgeroute::MappedFile f(p.string());
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.bytes().empty());
  fs::remove(p);
}

TEST(MappedFile, MissingFileNamesPath) {
  try {
    edgeroute::MappedFile f("/nonexistent/edgeroute.bin");
    FAIL() << "expected an error";
  } catch (const edgeroute::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/edgeroute.bin"), std::string::npos);
  }
}

TEST(MappedFile, DirectoryIsRejected) {
  EXPECT_THROW(edgeroute::MappedFile f(EDGEROUTE_TEST_BINARY_DIR), edgeroute::Error);
}

TEST(MappedFile, MoveTransfersOwnership) {
  const fs::path p = temp_path("move");
  { std::ofstream(p, std::ios::binary) << "abc"; }
  edgeroute::MappedFile a(p.string());
  edgeroute::MappedFile b(std::move(a));
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  fs::remove(p);
}

}  // namespace
