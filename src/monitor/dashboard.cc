#include "edgeroute/monitor/dashboard.h"

#include <stdexcept>
#include <string_view>

namespace edgeroute::monitor {

namespace detail {
// src/monitor/dashboard.html, embedded by cmake/embed_text.cmake.
std::string_view dashboard_page();
}  // namespace detail

namespace {

// Where report_html() puts the data: an HTML comment just before the page's
// script, so the element exists when the script runs.
constexpr std::string_view kDataMarker = "<!-- edgeroute:data -->";

std::size_t marker_position(std::string_view page) {
  const std::size_t at = page.find(kDataMarker);
  if (at == std::string_view::npos || page.find(kDataMarker, at + 1) != std::string_view::npos) {
    throw std::logic_error("dashboard.html must contain the data marker exactly once");
  }
  return at;
}

// JSON text that is also inert inside an HTML <script> element: the escaped
// characters only ever occur inside JSON strings, where \uXXXX is equivalent.
std::string script_safe_json(const nlohmann::json& document) {
  const std::string text = document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      // U+2028 / U+2029: line terminators for JavaScript parsers of old.
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string dashboard_html() {
  const std::string_view page = detail::dashboard_page();
  const std::size_t at = marker_position(page);
  std::string out(page.substr(0, at));
  out += page.substr(at + kDataMarker.size());
  return out;
}

std::string report_html(const nlohmann::json& document) {
  const std::string_view page = detail::dashboard_page();
  const std::size_t at = marker_position(page);
  std::string out(page.substr(0, at));
  out += "<script type=\"application/json\" id=\"edgeroute-data\">";
  out += script_safe_json(document);
  out += "</script>";
  out += page.substr(at + kDataMarker.size());
  return out;
}

}  // namespace edgeroute::monitor
