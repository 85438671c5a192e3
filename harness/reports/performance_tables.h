// glmh bench's timed figures as the reports show them: which figures, in which order, under which
// headings, formatted. summary.md and report.html each render these tables in their own markup,
// so the two always show the same numbers.
#pragma once

#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

struct FigureTable {
  std::string title;
  std::string note;  // what the figures are, one paragraph (plain text)
  std::vector<std::string> headings;
  std::vector<std::vector<std::string>> rows;  // one per scenario with timed figures; "–" where one is missing
};

// Per stage p50 / p90; per denoise step and end to end p50, p90, min, max; scaling (speedups,
// efficiency, the Amdahl bound, peak memory, time in collectives) — for scenarios with timed
// iterations; and caching (hit rate, ideal and measured speedup over uncached, cache-diff's image
// scores and changed decisions) for cached scenarios. Empty when no scenario has either.
std::vector<FigureTable> performance_tables(const std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
