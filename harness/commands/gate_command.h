// glmh gate: CI's regression gate over a validate or bench results.csv and a per-device baseline
// (reports/baselines/*.csv), in upstream's form (docs/checks.md#gate): a latency fails above
// max(baseline x (1 + rel), baseline + abs); a speedup or efficiency fails below
// min(baseline x (1 - rel), baseline - abs); any scenario that failed its checks fails the gate.
// Absolute CPU times are noise and are never gated, only ratios measured within one run.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/runtime/printable_text.h"

namespace glmh {

// One line, outside text (baseline and results cells) escaped.
class GateInputError : public std::invalid_argument {
 public:
  explicit GateInputError(const std::string& what) : std::invalid_argument(printable(what, 1000)) {}
};

enum class GateDirection { LowerIsBetter, HigherIsBetter };

struct BaselineRow {
  std::string scenario, metric;
  double baseline = 0, rel = 0, abs = 0;
  GateDirection direction = GateDirection::LowerIsBetter;
  int line = 0;
};

// speedup*, efficiency*, psnr*, ssim* and the cache hit rate / ideal speedup are higher-is-better,
// everything else (seconds, changed cache decisions) lower-is-better.
GateDirection default_direction(const std::string& metric);
// (rel, abs) when a baseline row leaves them empty: end to end 10 % / 0.5 s, a denoise step
// 10 % / 2 ms, other stages 25 % / 50 ms, ratios 10 %.
std::pair<double, double> default_tolerance(const std::string& metric);
// The value a metric may reach before it fails.
double gate_bound(const BaselineRow& row);

std::vector<BaselineRow> read_baseline(const std::string& path);

struct GateInputs {
  std::vector<std::pair<std::string, std::string>> failed_scenarios;  // name, why
  std::map<std::pair<std::string, std::string>, double> metrics;       // (scenario, metric) -> value
  std::map<std::string, std::string> devices;                          // scenario -> cpu / cuda
};
GateInputs read_gate_results(const std::string& path);

struct GateVerdict {
  std::string scenario, metric;
  double value, baseline, bound;
  bool passed;
  std::string detail;
};
std::vector<GateVerdict> apply_gate(const GateInputs& results, const std::vector<BaselineRow>& baseline);

int gate_command(const std::vector<std::string>& args);

}  // namespace glmh
