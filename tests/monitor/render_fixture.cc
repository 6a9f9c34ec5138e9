// edgeroute_render_fixture IN.json OUT.html: writes the static report page
// for a monitor document, for the headless-browser test.
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "edgeroute/monitor/dashboard.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " IN.json OUT.html\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot open\n";
    return 1;
  }
  try {
    const nlohmann::json doc = nlohmann::json::parse(in);
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out << edgeroute::monitor::report_html(doc);
    if (!out.flush()) {
      std::cerr << argv[2] << ": cannot write\n";
      return 1;
    }
  } catch (const nlohmann::json::exception& e) {
    std::cerr << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
