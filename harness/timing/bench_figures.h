// The figures of timed scenario runs, as glmh bench and glmh cache-diff report them: each run's
// bench.json read into its outcome (percentiles per stage, end to end and per denoise step, peak
// memory, collective time), and each layout's speedup over the single-rank run of the same request.
#pragma once

#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

// Reads OUTCOME.run_dir/bench.json into `performance` (and the stage medians into stage_seconds);
// nothing when the run wrote none. Throws on a malformed file.
void read_bench_figures(ScenarioOutcome& outcome);

// Speedup and efficiency over the single-rank scenario of the same request among `outcomes`, and
// the Amdahl bound: only the denoising shrinks with more ranks.
void add_speedups(std::vector<ScenarioOutcome>& outcomes);

// The denoising stage's time: the timed median when there is one, else the checked run's.
double denoising_seconds(const ScenarioOutcome& outcome);

}  // namespace glmh
