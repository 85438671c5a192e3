// glmh run's options and what they say, read once from the command line: the launcher checks
// them before anything starts, every rank runs by them.
#pragma once

#include <string>
#include <vector>

#include "harness/checks/output_parity_check.h"
#include "harness/cli/cli_args.h"
#include "harness/faults/fault_injection.h"
#include "harness/timing/bench_iterations.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"

namespace glmh {

struct RunSettings {
  ArStrategy strategy = ArStrategy::MainRank;
  GlmImageFault fault = GlmImageFault::None;  // --fault: a bug upstream shipped
  FaultSpec inject;                           // --inject failure (docs/faults.md#failure-injection)
  bool ar_cuda_graph = true;
  bool dit_cuda_graph = true;
  std::string out;                            // the run directory
  // The name `out` gets when the caller commits it (docs/reliability.md#crash-safe-outputs);
  // empty: nobody stages `out` but this run's rank 0, which then stages it itself.
  std::string recorded_out;
  CacheProfile cache;                         // --cache
  ParityOverrides parity;                     // --latent-tolerance, --min-cosine, --min-psnr, --min-ssim
  BenchSettings bench;
};

// runtime, model and run options
std::vector<OptionSpec> run_option_specs();
// Throws UsageError naming the option. `out` stays empty when --out is not given.
RunSettings run_settings_from(const CliArgs& args);

// Refuses (UsageError) an --inject that could never fire in this run: checked against the stages
// glmh run executes with these settings and the request's AR tokens and denoise steps.
void validate_injection(const RunSettings& settings, const CliArgs& args, int world_size);

}  // namespace glmh
