// Tiny encoders that the train unit tests build themselves (no downloads).
#pragma once

#include <string>

#include "edgeroute/modelio/hf_config.h"
#include "edgeroute/train/modules.h"

namespace edgeroute::train::testing {

// vocab 40, hidden 16, 4 heads, 2 layers, ffn 32, 12 positions, pad id 0;
// `labels` classes named "c0", "c1", ... (0: none).
modelio::EncoderConfig tiny_config(modelio::Architecture arch, int labels = 0);

// A model of `config` for `task`, initialised from `seed`, in eval() mode.
EncoderModel tiny_model(const modelio::EncoderConfig& config, Task task, bool with_pooler, std::uint64_t seed);

// A fresh, empty directory for one test under the test binary's folder.
std::string test_dir(const std::string& name);

}  // namespace edgeroute::train::testing
