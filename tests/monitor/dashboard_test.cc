// The dashboard page and the static report: the embedded document parses
// back unchanged, no string in it can end the script element, and the live
// page carries no data and no external resources.
#include "edgeroute/monitor/dashboard.h"

#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace edgeroute::monitor {
namespace {

constexpr std::string_view kDataOpen = R"(<script type="application/json" id="edgeroute-data">)";

nlohmann::json fixture() {
  const std::string path = std::string(EDGEROUTE_TEST_DATA_DIR) + "/fixtures/monitor_doc.json";
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

// The text inside the data element, or "" when there is none.
std::string embedded(const std::string& page) {
  const std::size_t open = page.find(kDataOpen);
  if (open == std::string::npos) return "";
  const std::size_t begin = open + kDataOpen.size();
  return page.substr(begin, page.find("</script>", begin) - begin);
}

std::size_t count(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(Dashboard, ReportEmbedsTheFixtureRoundTrippable) {
  const nlohmann::json doc = fixture();
  const std::string page = report_html(doc);
  ASSERT_EQ(count(page, kDataOpen), 1u);
  EXPECT_EQ(nlohmann::json::parse(embedded(page)), doc);
}

TEST(Dashboard, EmbeddedJsonCannotBreakOutOfTheScriptElement) {
  const nlohmann::json doc = fixture();
  ASSERT_NE(doc.dump().find("</script><img src=x onerror=alert(1)>"), std::string::npos)
      << "the fixture must carry a hostile label";
  const std::string page = report_html(doc);
  const std::string data = embedded(page);
  for (const char c : {'<', '>', '&'}) EXPECT_EQ(data.find(c), std::string::npos) << c;
  EXPECT_EQ(data.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(data.find("\xE2\x80\xA9"), std::string::npos);
  EXPECT_NE(data.find("\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e"), std::string::npos);
  EXPECT_NE(data.find("line\\u2028separator\\u2029in a note"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  // Exactly one more closing tag than the live page: the data element's own.
  EXPECT_EQ(count(page, "</script>"), count(dashboard_html(), "</script>") + 1);
}

TEST(Dashboard, HostileStringsAnywhereRoundTrip) {
  nlohmann::json doc = {{"node", "a</SCRIPT>b<!--c-->&amp;\xE2\x80\xA8\xE2\x80\xA9"},
                        {"series", nlohmann::json::array({{{"t", 1}, {"</script>", nullptr}}})}};
  const std::string data = embedded(report_html(doc));
  EXPECT_EQ(data.find_first_of("<>&"), std::string::npos) << data;
  EXPECT_EQ(nlohmann::json::parse(data), doc);
}

TEST(Dashboard, InvalidUtf8IsReplacedNotThrown) {
  const nlohmann::json doc = {{"node", std::string("edge-\xFF-1")}};
  std::string page;
  ASSERT_NO_THROW(page = report_html(doc));
  EXPECT_EQ(nlohmann::json::parse(embedded(page))["node"], "edge-\xEF\xBF\xBD-1");
}

TEST(Dashboard, LivePageHasNoEmbeddedData) {
  const std::string live = dashboard_html();
  EXPECT_EQ(embedded(live), "");
  EXPECT_EQ(live.find("application/json\" id="), std::string::npos);
  EXPECT_EQ(live.find("edgeroute:data"), std::string::npos) << "the marker must not leak into the page";
  EXPECT_NE(live.find("window.__edgerouteRendered"), std::string::npos);
  EXPECT_NE(live.find("v1/monitor"), std::string::npos);
}

TEST(Dashboard, ReportIsTheLivePagePlusTheDataElementBeforeTheScript) {
  const std::string live = dashboard_html();
  const std::string page = report_html(nlohmann::json::object());
  const std::size_t open = page.find(kDataOpen);
  ASSERT_NE(open, std::string::npos);
  const std::size_t close = page.find("</script>", open) + std::string_view("</script>").size();
  EXPECT_EQ(page.substr(0, open) + page.substr(close), live);
  // The page's script reads the element when it runs, so it must come after it.
  EXPECT_NE(page.find("<script>", close), std::string::npos);
  EXPECT_EQ(page.find("<script>"), page.find("<script>", close));
}

TEST(Dashboard, PageLoadsNothingFromTheNetwork) {
  const std::string live = dashboard_html();
  // The only absolute URL is the SVG namespace, which is a name, not a fetch.
  EXPECT_EQ(count(live, "http://") + count(live, "https://"), count(live, "http://www.w3.org/2000/svg"));
  EXPECT_EQ(count(live, "<link"), count(live, R"(<link rel="icon" href="data:,">)"));
  EXPECT_EQ(live.find("<script src"), std::string::npos);
  EXPECT_EQ(live.find("@import"), std::string::npos);
  EXPECT_EQ(live.find("innerHTML"), std::string::npos) << "data must reach the DOM through textContent";
}

}  // namespace
}  // namespace edgeroute::monitor
