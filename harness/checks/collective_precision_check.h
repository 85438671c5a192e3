// collective_precision (docs/checks.md#collective_precision): every floating-point collective of
// the run carried a dtype the run's precision allows — an fp32 run fp32 (or fp64), a bf16 run bf16,
// fp32 or fp64; fp16 never. A collective silently sent in a narrower format (an fp16 all-to-all
// in an fp32 run) leaves an error below the output tolerances, and in bf16 none at all; the
// communicators' tallies show it directly.
#pragma once

#include <c10/core/ScalarType.h>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

// Whether a collective of `wire` is allowed in a run computing in `run_dtype`.
bool wire_dtype_allowed(c10::ScalarType wire, c10::ScalarType run_dtype);

// Every group of every rank, since the groups were created. Collective over the world.
CheckResult collective_precision_check(c10::ScalarType run_dtype, RankContext& ctx);

}  // namespace glmh
