#include "edgeroute/modelio/label_map.h"

#include <gtest/gtest.h>

#include "edgeroute/common/error.h"

namespace edgeroute::modelio {
namespace {

using nlohmann::json;

void expect_label_map_error(const json& config, const std::string& expected) {
  try {
    (void)LabelMap::from_hf_json(config, "cfg.json");
    ADD_FAILURE() << "accepted: " << config.dump();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cfg.json"), std::string::npos) << what;
    EXPECT_NE(what.find(expected), std::string::npos) << "expected '" << expected << "' in: " << what;
  }
}

TEST(LabelMap, FromLabels) {
  const LabelMap m = LabelMap::from_labels({"billing", "tech", "other"});
  EXPECT_EQ(m.size(), 3);
  EXPECT_EQ(m.name(1), "tech");
  EXPECT_EQ(m.id("other"), 2);
  EXPECT_FALSE(m.id("nope").has_value());
  EXPECT_THROW((void)m.name(3), Error);
  EXPECT_THROW((void)m.name(-1), Error);
  EXPECT_THROW((void)LabelMap::from_labels({"a", "a"}), Error);
  EXPECT_THROW((void)LabelMap::from_labels({"a", ""}), Error);
  EXPECT_TRUE(LabelMap::from_labels({}).empty());
}

TEST(LabelMap, HfJsonRoundTrip) {
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back("label_" + std::to_string(i));
  const LabelMap m = LabelMap::from_labels(names);
  const json config = {{"id2label", m.to_id2label_json()}, {"label2id", m.to_label2id_json()}};
  EXPECT_EQ(config["id2label"]["10"], "label_10");
  EXPECT_EQ(config["label2id"]["label_3"], 3);
  EXPECT_EQ(LabelMap::from_hf_json(config, "cfg.json"), m);
  // label2id is optional.
  EXPECT_EQ(LabelMap::from_hf_json(json{{"id2label", m.to_id2label_json()}}, "cfg.json"), m);
  EXPECT_TRUE(LabelMap::from_hf_json(json::object(), "cfg.json").empty());
}

TEST(LabelMap, HfJsonErrors) {
  expect_label_map_error(json{{"id2label", {{"0", "a"}, {"2", "b"}}}}, "key '2'");
  expect_label_map_error(json{{"id2label", {{"00", "a"}}}}, "key '00'");
  expect_label_map_error(json{{"id2label", {{"-0", "a"}}}}, "key '-0'");
  expect_label_map_error(json{{"id2label", {{"x", "a"}}}}, "key 'x'");
  expect_label_map_error(json{{"id2label", {{"0", 5}}}}, "is not a string");
  expect_label_map_error(json{{"id2label", {{"0", "a"}, {"1", "a"}}}}, "duplicate label 'a'");
  expect_label_map_error(json{{"id2label", {{"0", ""}}}}, "label 0 is empty");
  expect_label_map_error(json{{"id2label", json::array()}}, "id2label is not a JSON object");
  expect_label_map_error(json{{"label2id", {{"a", 0}}}}, "label2id is present but id2label is not");
  expect_label_map_error(json{{"id2label", {{"0", "a"}, {"1", "b"}}}, {"label2id", {{"a", 1}, {"b", 0}}}},
               "label2id['a'] is 1 but id2label gives 0");
  expect_label_map_error(json{{"id2label", {{"0", "a"}, {"1", "b"}}}, {"label2id", {{"a", 0}, {"c", 1}}}}, "label2id has 'c'");
  expect_label_map_error(json{{"id2label", {{"0", "a"}, {"1", "b"}}}, {"label2id", {{"a", 0}}}}, "label2id lacks 'b'");
  expect_label_map_error(json{{"id2label", {{"0", "a"}}}, {"label2id", {{"a", "0"}}}}, "label2id['a'] is \"0\"");
}

}  // namespace
}  // namespace edgeroute::modelio
