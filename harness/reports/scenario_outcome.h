// What one scenario of a validate run produced: its checks (from its run's results.csv), its stage
// times, and the scenario's verdict (a pass scenario passes when every check passes; a detect
// scenario passes only when its fault was caught: exit 1 with a failed check).
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/checks/check_result.h"
#include "harness/scenarios/scenario.h"
#include "pipeline/runtime/printable_text.h"

namespace glmh {

// A report's results.csv or outcomes.json that cannot be read back: one line, naming the file,
// outside text escaped.
class ReportDataError : public std::runtime_error {
 public:
  explicit ReportDataError(const std::string& what) : std::runtime_error(printable(what, 1000)) {}
};

struct ScenarioOutcome {
  Scenario scenario;
  bool passed = false;
  std::string reason;         // one line: why it passed or failed
  int exit_code = -1;
  double seconds = 0;         // wall clock of the whole run (launch, load, stages, checks)
  std::string run_dir;        // the scenario's glmh run --out
  std::string reference_dir;  // the single-rank run it was compared with ("" when none)
  std::string reference_origin;  // where that came from (reference_origin.h); "" when none
  std::vector<CheckResult> checks;
  std::vector<std::pair<std::string, double>> stage_seconds;  // stage -> seconds, max over ranks
  // Figures in order (glmh bench, glmh cache-diff), e.g. "glm_image.denoising:p50" (s),
  // "speedup:end_to_end", "efficiency:glm_image.denoising", "amdahl:end_to_end", "peak_memory_gib",
  // "cache_hit_rate", "speedup:over_uncached", "psnr:vs_uncached".
  std::vector<std::pair<std::string, double>> performance;
  double figure(const std::string& name, double fallback = 0) const {
    for (const auto& [n, v] : performance)
      if (n == name) return v;
    return fallback;
  }
  bool has_figure(const std::string& name) const {
    for (const auto& p : performance)
      if (p.first == name) return true;
    return false;
  }
};

// Facts for every report header.
struct ReportContext {
  std::string title;          // "glmh validate scenarios/ci.csv"
  std::string run_id;
  std::string scenario_file;
  std::map<std::string, std::string> facts;  // revision, libtorch, host, devices, backend, NCCL env, ...
  // The report directory as given when the report was first written: how run directories
  // recorded inside it are found again (harness/reports/report_paths.h).
  std::string written_to;
};

// A ReportContext fact that lists values over the scenarios ("devices", "backends", ...): the
// values joined with ", ", or "none ran"; and back again, as merging reports needs.
std::string fact_list(const std::set<std::string>& items);
std::set<std::string> fact_list_items(const std::string& fact);

// Everything a report is made from, as JSON (outcomes.json in a report directory), so that
// glmh report can render the report files again.
std::string report_data_json(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);
// Throws std::runtime_error naming the file on malformed input.
void read_report_data(const std::string& path, ReportContext& context, std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
