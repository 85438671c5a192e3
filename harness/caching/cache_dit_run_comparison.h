// A user's own run of a cache-dit build against glmh's run of the same request and profile: the
// cached steps per branch, as cache-dit's summary reports them (JSON: {"cached_steps": [...],
// "cfg_cached_steps": [...]}), must equal glmh's, and the outputs must agree — final latents
// (safetensors) within a relative error, or images (PNG) above a PSNR and SSIM.
// docs/caching.md#checking-a-cache-dit-build.
#pragma once

#include <string>
#include <vector>

#include "harness/checks/check_result.h"

namespace glmh {

struct CacheDitRunFiles {
  std::string ours;          // glmh's run: a run/generate directory, or glmh forward --component denoise's file
  std::string theirs_steps;  // the JSON of cached steps
  std::string theirs;        // their latents (.safetensors) or image (.png); empty: steps only
  std::string theirs_tensor = "latents";  // the tensor of `theirs` holding the final latents
};

struct CacheDitRunTolerances {
  double max_relative_error = 1e-4;  // latents: max |ours - theirs| / max |theirs|
  double min_psnr = 40, min_ssim = 0.98;
};

// Checks cached_steps_match and output_match (the latter only with `theirs`). Throws
// std::invalid_argument naming the file for input it cannot read.
std::vector<CheckResult> compare_with_cache_dit_run(const CacheDitRunFiles& files, const CacheDitRunTolerances& tolerances);

}  // namespace glmh
