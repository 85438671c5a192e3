// glmh cache-diff: cache-dit upgrade validation. Runs a scenario file's scenarios uncached and
// under two cache profiles (e.g. two releases' defaults, or two configurations) and reports per
// scenario the cached steps of each, the decisions that changed, PSNR/SSIM of each against the
// uncached run and of one against the other, each profile's denoising speedup over uncached, and a
// verdict against the quality gates; the usual reports, gateable by glmh gate. With --ours, compares
// a user's own cache-dit run with glmh's instead. docs/caching.md#cache-diff.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int cache_diff_command(const std::vector<std::string>& args);

}  // namespace glmh
