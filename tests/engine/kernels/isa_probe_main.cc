// Prints the ISA kernels use in this process, twice (the second read must
// come from the cache), or the override error with exit status 2.
#include <cstdio>
#include <string>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/kernels.h"

int main() {
  try {
    const std::string first(edgeroute::engine::isa_name(edgeroute::engine::active_isa()));
    const std::string second(edgeroute::engine::isa_name(edgeroute::engine::active_isa()));
    std::printf("%s %s\n", first.c_str(), second.c_str());
    return 0;
  } catch (const edgeroute::Error& e) {
    std::printf("error: %s\n", e.what());
    return 2;
  }
}
