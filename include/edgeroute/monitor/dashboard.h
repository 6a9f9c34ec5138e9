// The monitor's pictures: one self-contained HTML page (inline CSS and
// JavaScript drawing SVG charts, no external resources) in two modes.
//
// Live (`GET /dashboard`): the page fetches `v1/monitor?window=1m|1h|24h`
// relative to its own URL every 2 s, sending the token from `#token=…` in
// the URL fragment as `Authorization: Bearer`. It holds no data itself, so it
// can be served without a token.
//
// Static (`edgeroute report --format html`): the same page with the monitor
// JSON document (docs: the monitor document of issue 6) embedded in a
// `<script type="application/json" id="edgeroute-data">` element; it makes
// no requests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace edgeroute::monitor {

// The live page.
std::string dashboard_html();

// The static page with `document` embedded. `<`, `>`, `&`, U+2028 and U+2029
// are written as JSON \u escapes, so no string in the document (a label that
// reads `</script>…`) can end the script element or change how it parses;
// invalid UTF-8 in strings is replaced by U+FFFD. The embedded text parses
// back to `document` (up to that replacement).
std::string report_html(const nlohmann::json& document);

}  // namespace edgeroute::monitor
