// cache-dit's named step-computation masks (slow, medium, fast, ultra; aliases s, m, f, u) expanded
// for a step count, as its steps_mask(total_steps, mask_policy) does in every release glmh knows
// (1.2.2 to 1.5.3; the algorithm: docs/cache-dit-releases.md#6-step-computation-masks). The
// expansions are checked against the released function's output in golden/cache/step_mask_presets.csv.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace glmh {

// The preset's full name for a name or alias; nullopt if it is neither.
std::optional<std::string> step_mask_preset_name(const std::string& name_or_alias);

// The mask for `total_steps` steps: 1 = compute, 0 = cache (static) or decide (dynamic); the last
// step always computes. Throws CacheConfigError for an unknown preset or a step count the release
// refuses (below 8, other than 4 and 6).
std::vector<int> step_mask_preset(const std::string& name_or_alias, int total_steps);

// The mask that compute/cache bins describe (compute first, alternating), cut to `total_steps`.
std::vector<int> step_mask_from_bins(const std::vector<int>& compute_bins, const std::vector<int>& cache_bins,
                                     int total_steps);

}  // namespace glmh
