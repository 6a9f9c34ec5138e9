// Human-readable description of a model, for `edgeroute inspect PATH`.
#pragma once

#include <ostream>
#include <string>

namespace edgeroute::modelio {

// For a directory: the config summary (architecture, layers, hidden size,
// heads, FFN size, vocabulary, positions, labels) from config.json, then the
// __metadata__ and the tensor table of model.safetensors. For a file in
// safetensors format (.safetensors, .edge, ...): the __metadata__ and the
// tensor table. The table lists, in file order, the HF name, the canonical
// name ("-" when none), dtype, shape, bytes and data offset; the totals
// (parameters and bytes) end the output. Throws edgeroute::Error on any
// unreadable or invalid input; nothing is printed for a file that fails to load.
void describe_model(const std::string& path, std::ostream& out);

}  // namespace edgeroute::modelio
