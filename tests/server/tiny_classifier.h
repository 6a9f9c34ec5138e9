// A tiny BERT sequence classifier directory (config.json with labels c0, c1,
// c2, model.safetensors with deterministic weights, a 32-word vocab.txt),
// written by the test itself: enough for the service's protocol, limits,
// routing and audit tests. Its answers are arbitrary but deterministic.
#pragma once

#include <string>

namespace edgeroute::test {

// Writes the directory (replacing it) and returns its path.
std::string write_tiny_classifier(const std::string& dir);

}  // namespace edgeroute::test
