#include "tiny_models.h"

#include <bit>
#include <cmath>
#include <limits>

namespace edgeroute::modelio::testing {

EncoderConfig tiny_config(Architecture arch, int labels) {
  const std::string labels_json = [&] {
    if (labels == 0) return std::string();
    std::string id2label = "\"id2label\": {";
    std::string label2id = "\"label2id\": {";
    for (int i = 0; i < labels; ++i) {
      const std::string sep = i > 0 ? ", " : "";
      id2label += sep + "\"" + std::to_string(i) + "\": \"c" + std::to_string(i) + "\"";
      label2id += sep + "\"c" + std::to_string(i) + "\": " + std::to_string(i);
    }
    return ", " + id2label + "}, " + label2id + "}";
  }();
  if (arch == Architecture::kBert) {
    return parse_hf_config(R"({"model_type": "bert", "vocab_size": 32, "hidden_size": 8,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
        "max_position_embeddings": 16, "type_vocab_size": 2)" +
                               labels_json + "}",
                           "tiny-bert/config.json");
  }
  return parse_hf_config(R"({"model_type": "distilbert", "vocab_size": 32, "dim": 8,
      "n_layers": 2, "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 16)" +
                             labels_json + "}",
                         "tiny-distilbert/config.json");
}

std::vector<TinyTensor> tiny_tensors(const EncoderConfig& config, Heads heads, const std::string& prefix) {
  std::vector<TinyTensor> out;
  for (const TensorSpec& spec : expected_tensors(config, heads)) {
    out.push_back({to_hf(config.arch, spec.canonical, prefix), spec.shape, DType::kF32});
  }
  return out;
}

SafetensorsWriter tiny_writer(const std::vector<TinyTensor>& tensors) {
  SafetensorsWriter writer;
  int seed = 0;
  for (const TinyTensor& t : tensors) {
    std::int64_t n = 1;
    for (const std::int64_t d : t.shape) n *= d;
    std::vector<std::byte> bytes(static_cast<std::size_t>(n * dtype_size(t.dtype)));
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::byte>((i * 7 + static_cast<std::size_t>(seed)) & 0xff);
    writer.add(t.hf_name, t.dtype, t.shape, bytes);
    ++seed;
  }
  return writer;
}

SafetensorsWriter all_dtypes_writer() {
  SafetensorsWriter w;
  const std::vector<double> f64 = {0.0, -1.5, 3.141592653589793, 1e300, -std::numeric_limits<double>::infinity()};
  w.add<double>("f64", {5}, f64);
  std::vector<float> f32(48);
  for (std::size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.25f - 3.0f;
  f32[1] = std::numeric_limits<float>::quiet_NaN();
  f32[2] = std::numeric_limits<float>::denorm_min();
  w.add<float>("f32.matrix", {6, 8}, f32);
  w.add<float>("f32.scalar", {}, std::vector<float>{42.0f});
  const std::vector<std::uint16_t> f16 = {float_to_half(1.0f), float_to_half(-0.5f), 0x7c00, 0x0001, 0x7e00};
  w.add("f16", DType::kF16, {5}, f16);
  const std::vector<std::uint16_t> bf16 = {float_to_bf16(1.0f), float_to_bf16(-2.75f), 0xff80};
  w.add("bf16", DType::kBF16, {3, 1}, bf16);
  w.add<std::int64_t>("i64", {2}, std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 7});
  w.add<std::int32_t>("i32", {3}, std::vector<std::int32_t>{-1, 0, 2147483647});
  w.add<std::int16_t>("i16", {1, 3}, std::vector<std::int16_t>{-32768, 5, 32767});
  w.add<std::int8_t>("i8", {7}, std::vector<std::int8_t>{-128, -1, 0, 1, 2, 3, 127});
  w.add<std::uint8_t>("u8", {2, 2}, std::vector<std::uint8_t>{0, 1, 254, 255});
  const std::vector<std::uint8_t> flags = {1, 0, 1};
  w.add("bool", DType::kBool, {3}, std::as_bytes(std::span<const std::uint8_t>(flags)));
  w.add<float>("empty.f32", {0, 4}, std::vector<float>{});
  w.add<std::int8_t>("empty.i8", {3, 0}, std::vector<std::int8_t>{});
  std::vector<std::int8_t> block(128);
  for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::int8_t>(i);
  w.add<std::int8_t>("i8.block", {2, 64}, block);
  w.set_metadata("format", "pt");
  w.set_metadata("edgeroute.note", "unicode \xc3\xa9 and \"quotes\"");
  return w;
}

}  // namespace edgeroute::modelio::testing
