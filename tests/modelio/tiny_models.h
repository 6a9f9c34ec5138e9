// Tiny checkpoints that the tests generate themselves (no downloads).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/modelio/safetensors.h"
#include "edgeroute/modelio/tensor_names.h"

namespace edgeroute::modelio::testing {

// hidden 8, 2 heads, 2 layers, ffn 16, vocab 32, 16 positions; `labels`
// classes named "c0", "c1", ...
EncoderConfig tiny_config(Architecture arch, int labels = 0);

struct TinyTensor {
  std::string hf_name;
  std::vector<std::int64_t> shape;
  DType dtype = DType::kF32;
};

// The HF-named tensors a checkpoint of `config` with `heads` holds;
// `prefix` ("bert." etc. or "") goes before encoder names.
std::vector<TinyTensor> tiny_tensors(const EncoderConfig& config, Heads heads, const std::string& prefix);

// A writer holding the tensors with deterministic values.
SafetensorsWriter tiny_writer(const std::vector<TinyTensor>& tensors);

// A file exercising every dtype, a scalar, zero-size tensors, sizes that are
// and are not multiples of 64, special float values and metadata.
SafetensorsWriter all_dtypes_writer();

}  // namespace edgeroute::modelio::testing
