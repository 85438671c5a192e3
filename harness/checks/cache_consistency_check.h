// cache_consistency (docs/checks.md#cache_consistency): on a cached multi-rank run, every rank
// that ran a CFG branch took the same decision at every step, from the same threshold-test value
// (the test's two sums are reduced over the ranks that share the transformer, so the values are
// bitwise equal; a rank deciding on its own shard shows up here even where its decisions happen to
// agree). Against the single-rank run's decisions, every step whose decision differs is named with
// both diff values and the threshold; a flip whose diffs lie within 1 % of the threshold is a
// near-threshold flip (numerics: reported, not failed), any other difference fails.
#pragma once

#include <ATen/core/Tensor.h>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

struct CacheDecisions {
  at::Tensor hits;   // int64 [2, steps]: 1 hit, 0 computed, -1 the branch did not run here
  at::Tensor diffs;  // float64 [2, steps]: the threshold test's value, NaN where none ran
};

// Collective over the world. `reference` may be undefined (no single-rank decisions to compare).
// Returns the check and, in `merged`, the decisions of both branches (on every rank).
CheckResult cache_consistency_check(const CacheDecisions& mine, const CacheDecisions& reference, double threshold,
                                    RankContext& ctx, CacheDecisions& merged);

}  // namespace glmh
