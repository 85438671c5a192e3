// glmh cache-diff's judgement of one scenario run under two cache profiles (A, the release in use;
// B, the candidate) next to the same scenario uncached on the same layout. Checks added to each
// cached run (docs/caching.md#cache-diff):
//   cache_image_quality    image against the uncached run's: PSNR and SSIM above cache-dit's own
//                          gates (25 dB, 0.90)
//   cache_parallel_parity  multi-rank runs: image against the single-rank run with the same
//                          profile: PSNR and SSIM above 35 dB, 0.90
//   cache_schedule_change  on B: the calls whose decision differs from A's, per branch, each with
//                          both diffs and thresholds (a flip near the threshold is named as such);
//                          fails only when the schedules must not change
// and figures: psnr:vs_uncached, ssim:vs_uncached, psnr:vs_single_rank, ssim:vs_single_rank, and on
// B psnr:vs_a, ssim:vs_a, cache_changed_calls.
#pragma once

#include "harness/reports/scenario_outcome.h"

namespace glmh {

struct CacheDiffGates {
  double min_psnr_vs_uncached = 25, min_ssim_vs_uncached = 0.90;
  double min_psnr_parallel = 35, min_ssim_parallel = 0.90;
  bool require_same_schedule = false;
};

// `uncached`, `a`, `b`: the finished runs of one scenario. A run that failed already keeps its
// verdict; one that fails a check here becomes failed with that check as its reason.
void compare_cache_profiles(const ScenarioOutcome& uncached, ScenarioOutcome& a, ScenarioOutcome& b,
                            const CacheDiffGates& gates);

}  // namespace glmh
