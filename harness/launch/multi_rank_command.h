// What every multi-rank glmh command shares: the layout and runtime options, and the switch
// between "launch N local ranks of myself" and "I am one rank: connect and run".
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/cli/cli_args.h"
#include "pipeline/runtime/parallel_layout.h"
#include "pipeline/runtime/rank_environment.h"

namespace glmh {

class RankContext;

// --world-size --tp --sp --ulysses --ring --cfg --device --timeout --run-timeout
std::vector<OptionSpec> runtime_option_specs();

ParallelDegrees degrees_from(const CliArgs& args);

// The body of a command on one rank; returns the rank's exit code.
using RankMain = std::function<int(RankContext& ctx, const RankEnvironment& env)>;

// Validates the layout (refused with exit 2 before anything starts), then either launches
// world-size local ranks running `raw_args` again, or, when this process is a rank (started by
// glmh, torchrun or srun), connects its process groups and runs `rank_main`. Errors become the
// documented exit codes, with one line naming the rank and the stage.
int run_multi_rank_command(const std::string& command, const CliArgs& args,
                           const std::vector<std::string>& raw_args,
                           std::optional<int> attention_heads, const RankMain& rank_main);

}  // namespace glmh
