// edgeroute compress: an FP32 Hugging Face classifier in, an .edge file out.
//
// Quantizes every linear group (weights.h) to INT8, or to 4 bits with --int4,
// except those matching a --keep-fp32 pattern, and can trim vocabulary rows
// the tokenizer never produces (vocab_trim.h). Given labeled check data it
// measures FP32 and quantized accuracy and each group's sensitivity at each
// storage (NMSE of the [CLS] embedding when only that group is quantized),
// then moves the most sensitive group one step up (int4 -> int8 -> fp32), one
// at a time, until the accuracy loss is within the budget (points). The
// figures describe the model as written: trimming and 4-bit storage are
// applied exactly as the runtime will load them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgeroute/engine/vocab_trim.h"
#include "edgeroute/engine/weights.h"

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
  bool int4 = false;                      // start every group at 4 bits (needs check data)
  std::int64_t int4_group = 128;          // columns per 4-bit scale
  VocabTrim trim = VocabTrim::kNone;
  bool force = false;                     // overwrite `out`
  std::function<void(const std::string&)> progress;
};

struct GroupFigure {
  std::string group;
  double nmse = -1.0;   // [CLS] embedding NMSE with only this group INT8; -1 if not measured
  double nmse4 = -1.0;  // the same with only this group 4-bit; -1 if not measured
  Storage storage = Storage::kInt8;  // in the written file
};

struct CompressReport {
  std::uint64_t source_bytes = 0;
  std::uint64_t edge_bytes = 0;
  std::int64_t check_rows = 0;
  double fp32_accuracy = -1.0;  // fractions in [0, 1]; -1 without check data
  double int8_accuracy = -1.0;  // of the written model (int8 and 4-bit groups, trimmed vocabulary)
  double agreement = -1.0;      // written model vs FP32 argmax agreement on the check rows
  std::int64_t vocab_rows = 0;  // embedding rows written
  std::int64_t vocab_rows_source = 0;
  std::vector<GroupFigure> groups;
};

CompressReport compress(const CompressOptions& options);

}  // namespace edgeroute::engine
