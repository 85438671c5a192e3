// glmh bench: performance mode over a scenario file (timed iterations after one checked run),
// with per-stage and per-step percentiles, speedups over the single-rank run, efficiency and the
// Amdahl bound; reports in --out.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int bench_command(const std::vector<std::string>& args);

}  // namespace glmh
