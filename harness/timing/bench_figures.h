// The figures of timed scenario runs, as glmh bench and glmh cache-diff report them: each run's
// bench.json read into its outcome (percentiles per stage, end to end and per denoise step, peak
// memory, collective time), and each layout's speedup over the single-rank run of the same request.
#pragma once

#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

// Reads OUTCOME.run_dir/bench.json into `performance` (and the stage medians into stage_seconds);
// nothing when the run wrote none. Throws on a malformed file. A profiled run adds its step
// breakdown (the slowest rank's): breakdown_figure(part) per part of breakdown_parts(), the
// profiled step (breakdown_figure("step")), the rank, and the profiled step / the timed median.
void read_bench_figures(ScenarioOutcome& outcome);

// "breakdown:<part>": seconds per denoise step in that part.
std::string breakdown_figure(const std::string& part);
// "breakdown_vs_single:<part>": the same minus the single-rank run's (added by add_speedups).
std::string breakdown_difference_figure(const std::string& part);

// Speedup and efficiency over the single-rank scenario of the same request among `outcomes`, and
// the Amdahl bound: only the denoising shrinks with more ranks; with step breakdowns on both, each
// part's difference to the single-rank step.
void add_speedups(std::vector<ScenarioOutcome>& outcomes);
// Whether add_speedups made the figure `name` (one relative to another scenario of the run).
bool is_speedup_figure(const std::string& name);

// The denoising stage's time: the timed median when there is one, else the checked run's.
double denoising_seconds(const ScenarioOutcome& outcome);

}  // namespace glmh
