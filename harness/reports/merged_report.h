// Several glmh bench reports as one (docs/performance.md#bench-runs-in-parts). A bench too long for
// one sitting — a GPU machine lent in calls of bounded length — runs as several invocations on the
// same machine and build, each with the single-rank scenario it needs; merged, they are reported,
// gated and compared as one run.
#pragma once

#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

struct ReportToMerge {
  std::string name;  // the report directory: what an error names
  ReportContext context;
  std::vector<ScenarioOutcome> outcomes;
};

struct MergedReport {
  ReportContext context;
  std::vector<ScenarioOutcome> outcomes;
};

// The outcomes of every report, in order. Refuses (ReportDataError naming both reports) reports
// whose revision, libtorch, host, NCCL environment or scenario file differ, and a scenario name in
// two of them. Speedups, efficiencies, Amdahl bounds and breakdown differences are computed again
// over the union, each layout against the single-rank run of its request in the first report
// that has one; every other figure stays as its report measured it.
MergedReport merge_reports(const std::vector<ReportToMerge>& reports, const std::string& run_id);

}  // namespace glmh
