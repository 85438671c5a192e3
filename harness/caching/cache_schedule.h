// A cached run's DiT cache decisions as glmh writes them beside its outputs (cache_hits.safetensors:
// `cache_hits` int64 [2, steps] — 1 served from the cache, 0 computed, -1 the branch did not run —
// `cache_diffs` float64 [2, steps], the threshold test's value or NaN (optional); metadata: the profile and the
// DiT's block count), and the figures read from them: cached steps per branch, hit rate and the
// ideal speedup of the denoising (docs/caching.md#figures).
#pragma once

#include <string>
#include <vector>

#include "harness/checks/cache_consistency_check.h"

namespace glmh {

struct CacheSchedule {
  CacheDecisions decisions;
  std::string profile;     // as the run described it ("cache-dit@1.5.3:DBCache_...")
  int64_t dit_layers = 0;  // the DiT's transformer blocks; 0 when not recorded

  int64_t steps() const;
  // Steps whose call of `branch` (0 conditional, 1 unconditional) was served from the cache.
  std::vector<int> cached_steps(int branch) const;
  int64_t calls() const;         // DiT calls of the loop that ran
  int64_t cached_calls() const;  // of which served from the cache
  double hit_rate() const;       // cached_calls / calls (0 without calls)
  // The denoising speedup over the uncached loop if the transformer blocks were all of a call's
  // time: a cached call runs Fn + Bn of the L blocks. With the branches on ranks of their own
  // (CFG-parallel) a step costs its slower branch. NaN when the block count was not recorded.
  double ideal_speedup(bool branches_in_parallel) const;
};

// `path`: a run directory (its cache_hits.safetensors) or the file itself. Throws CheckpointError
// naming the file and tensor when it is missing or malformed.
CacheSchedule read_cache_schedule(const std::string& path);
void write_cache_schedule(const std::string& path, const CacheSchedule& schedule, const std::string& producer);

// "2 3 5 7" ("none" when empty), as reports show a list of steps.
std::string steps_text(const std::vector<int>& steps);

}  // namespace glmh
