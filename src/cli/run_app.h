// Shared by the edgeroute and edgeroute-train entry points: parse, run, and
// map the outcome to the documented exit codes (0 success; 1 an error in the
// input or environment, printed as "PROGRAM: error: ..."; 2 a usage error).
#pragma once

#include <iostream>
#include <new>

#include <CLI/CLI.hpp>

#include "edgeroute/common/error.h"

namespace edgeroute::cli {

inline int run_app(CLI::App& app, int argc, char** argv, const char* program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0 in CLI11.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const Error& e) {
    std::cout.flush();
    std::cerr << program << ": error: " << e.what() << '\n';
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": error: out of memory\n";
    return 1;
  }
  return 0;
}

}  // namespace edgeroute::cli
