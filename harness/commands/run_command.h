// glmh run: GLM-Image under a parallel layout (TP, SP with Ulysses and Ring, CFG-parallel, the AR
// stage's strategies), checked against the single-rank run, with fault modes that reproduce the
// bugs upstream shipped (docs/faults.md#fault-modes). Exit 0 all checks passed, 1 a check
// failed, 2 bad usage or input, 3 the run broke.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int run_command(const std::vector<std::string>& args);

}  // namespace glmh
