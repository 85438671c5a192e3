// What glmh run leaves in its run directory (rank 0 writes it, every file through a temporary
// name): the outputs (image.png, latents.safetensors, prior_tokens.safetensors), run.json (the
// settings, layout, versions and verdict), bench.json for timed iterations, and the run's
// result — checks, stage times, verdict — as a one-scenario report: results.csv, summary.md,
// report.html, junit.xml and outcomes.json, written by the same code as glmh validate's and read
// back by it (harness/reports/results_csv.cpp).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/checks/cache_consistency_check.h"
#include "harness/checks/check_result.h"
#include "harness/cli/cli_args.h"
#include "harness/run/run_settings.h"
#include "harness/timing/bench_iterations.h"

namespace glmh {

class GlmImageModels;
class RankContext;
class Request;

struct RunRecord {
  std::vector<CheckResult> checks;
  std::vector<std::pair<std::string, double>> stage_seconds;  // stage -> wall seconds, max over ranks
  std::string stopped;  // why the stages stopped early ("" when they ran to the end)
  double seconds = 0;   // rank 0's wall time from start-up to the checks' end
  std::optional<BenchSamples> bench;
  std::optional<CacheDecisions> cache;  // both branches' decisions, for cache_hits.safetensors
  int64_t dit_layers = 0;               // the DiT's blocks (the cache's ideal speedup)
  bool failed() const { return any_failed(checks); }
};

void write_run_directory(const std::string& dir, RankContext& ctx, const CliArgs& args, const RunSettings& settings,
                         const GlmImageModels& models, const Request& request, const RunRecord& record);

}  // namespace glmh
