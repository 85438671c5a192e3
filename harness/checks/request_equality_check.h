// Request equality (docs/checks.md#request_equality): right after the AR stage every rank's
// request equals rank 0's, field by field. Rank 0's serialized request (the bytes, not a hash)
// reaches every rank, which compares it with its own.
#pragma once

#include <string>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

// `snapshot`: this rank's request serialized right after the stage. Stage timings are compared
// only with `compare_timings` (they differ legitimately where every rank ran the stage itself).
// Collective over the world.
CheckResult request_equality_check(const std::string& snapshot, RankContext& ctx, bool compare_timings);

}  // namespace glmh
