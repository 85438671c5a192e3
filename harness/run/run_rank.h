// glmh run on one rank: set up, run the stages with the in-run checks and any injected fault,
// time them, compare with the single-rank run, and (rank 0) write the run directory.
#pragma once

#include "harness/cli/cli_args.h"
#include "harness/run/run_settings.h"

namespace glmh {

class RankContext;

// Collective over the world; returns the rank's exit code (0 all checks passed, 1 one failed).
int run_rank_main(RankContext& ctx, const CliArgs& args, const RunSettings& settings);

}  // namespace glmh
