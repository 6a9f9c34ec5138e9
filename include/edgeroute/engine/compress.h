// edgeroute compress: an FP32 Hugging Face classifier in, an .edge file out.
//
// Quantizes every linear group (weights.h) to INT8 except those matching a
// --keep-fp32 pattern. Given labeled check data it measures FP32 and INT8
// accuracy and each group's sensitivity (NMSE of the [CLS] embedding when only
// that group is INT8), then moves the most sensitive groups back to FP32, one
// at a time, until the accuracy loss is within the budget (points).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace edgeroute::engine {

struct CompressOptions {
  std::string model_dir;
  std::string out;
  std::string check_path;                 // empty: no accuracy check
  std::optional<std::string> text_column;
  std::optional<std::string> label_column;
  double max_loss_points = 0.3;           // accuracy points (percent) INT8 may lose
  std::vector<std::string> keep_fp32;     // ECMAScript regexes searched in group names
  std::size_t check_limit = 0;            // 0: every check row
  std::size_t sensitivity_rows = 256;     // rows used to rank groups
  bool force = false;                     // overwrite `out`
  std::function<void(const std::string&)> progress;
};

struct GroupFigure {
  std::string group;
  double nmse = 0.0;   // [CLS] embedding NMSE with only this group INT8; -1 if not measured
  bool fp32 = false;   // kept in FP32 in the written file
};

struct CompressReport {
  std::uint64_t source_bytes = 0;
  std::uint64_t edge_bytes = 0;
  std::int64_t check_rows = 0;
  double fp32_accuracy = -1.0;  // fractions in [0, 1]; -1 without check data
  double int8_accuracy = -1.0;
  double agreement = -1.0;      // INT8 vs FP32 argmax agreement on the check rows
  std::vector<GroupFigure> groups;
};

CompressReport compress(const CompressOptions& options);

}  // namespace edgeroute::engine
