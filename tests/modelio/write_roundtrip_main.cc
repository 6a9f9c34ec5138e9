// Writes the all-dtypes test file and a JSON description of it for
// python/check_safetensors_roundtrip.py, which loads the file with Hugging
// Face's safetensors and compares. Usage: modelio_write_roundtrip OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "edgeroute/common/error.h"
#include "edgeroute/common/sha256.h"
#include "tiny_models.h"

int main(int argc, char** argv) {
  namespace mio = edgeroute::modelio;
  if (argc != 2) {
    std::cerr << "usage: modelio_write_roundtrip OUT_DIR\n";
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "all_dtypes.safetensors").string();
    mio::testing::all_dtypes_writer().write(path);
    const mio::SafetensorsFile file = mio::SafetensorsFile::open(path);
    nlohmann::json expected = {{"file", path}, {"metadata", file.metadata()}, {"tensors", nlohmann::json::array()}};
    for (const mio::TensorView& t : file.tensors()) {
      expected["tensors"].push_back({{"name", t.name},
                                     {"dtype", std::string(mio::dtype_name(t.dtype))},
                                     {"shape", t.shape},
                                     {"file_offset", file.data_offset() + t.offset},
                                     {"sha256", edgeroute::sha256_hex(t.data)}});
    }
    std::ofstream(dir / "expected.json") << expected.dump(2) << "\n";
    std::cout << "wrote " << path << " with " << file.tensors().size() << " tensors\n";
    return 0;
  } catch (const edgeroute::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
