#include "edgeroute/common/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeroute {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(std::string_view("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string_view("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  const std::string million(1000000, 'a');
  Sha256 hasher;
  for (std::size_t i = 0; i < million.size(); i += 997) {
    hasher.update(std::string_view(million).substr(i, 997));
  }
  EXPECT_EQ(to_hex(hasher.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string_view(million)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  for (std::size_t n = 50; n < 140; ++n) {  // every padding boundary
    const std::string s(n, 'x');
    Sha256 h;
    h.update(std::string_view(s).substr(0, n / 3));
    h.update(std::string_view(s).substr(n / 3));
    EXPECT_EQ(to_hex(h.finish()), sha256_hex(std::string_view(s))) << n;
  }
}

}  // namespace
}  // namespace edgeroute
