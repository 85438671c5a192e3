// DBCache's settings as cache-dit defines them (docs/cache-dit-releases.md#8-defaults-and-the-examples),
// and the string cache-dit prints for them (DBCacheConfig.strify(), plus the calibrator part that
// cache_dit.strify adds), which is also how a user names a configuration to glmh:
//
//   DBCache_F{Fn}B{Bn}_W{warmup}I{interval}M{max cached}MC{max continuous}_R{threshold}
//     [_SCM{mask digits|preset}_{static|dynamic}] [_N{steps}] [_FR{hint}[_{once|repeat}]] [_CFG{0|1}]
//     [_T{0|1}O{order}] [_S{n}]
//
// A preset (slow, medium, fast, ultra or s, m, f, u: cache-dit's named masks, which its own printed
// form shows expanded) stands for its mask at the run's step count: for_steps() expands it.
// M0 and MC0 are read as "no limit" (cache-dit prints -1, its default, as 0; a limit of 0 would
// never cache and is not printable). _S{n} (a statistic) is accepted and ignored.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace glmh {

class CacheConfigError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

enum class StepMaskPolicy { Static, Dynamic };
enum class RefreshPolicy { Once, Repeat };

struct DbCacheConfig {
  int fn = 8;                        // first blocks, always computed (their residual is tested)
  int bn = 0;                        // last blocks, always computed
  int max_warmup_steps = 8;          // steps 0, I, 2I, ... below this always compute
  int warmup_interval = 1;
  int max_cached_steps = -1;         // per branch; -1: no limit
  int max_continuous_cached_steps = -1;
  double residual_diff_threshold = 0.08;
  std::string threshold_text = "0.08";  // as cache-dit prints it (Python's shortest repr)
  std::vector<int> steps_mask;       // 1 = compute; empty: none
  std::string mask_preset;           // a named mask not yet expanded (for_steps); empty: none
  StepMaskPolicy mask_policy = StepMaskPolicy::Dynamic;
  std::optional<int> num_inference_steps;
  std::optional<int> force_refresh_step_hint;
  RefreshPolicy refresh_policy = RefreshPolicy::Once;
  std::optional<bool> separate_cfg;  // GLM-Image's adapter sets it (true) when caching is enabled
  int taylorseer_order = 0;          // 0: no calibrator; 1..3: TaylorSeer of that order

  // Throws CacheConfigError naming the part of `text` it cannot read.
  static DbCacheConfig parse(const std::string& text);
  // cache-dit's printed form; `refresh_policy_printed`: releases >= 1.3.0 print _FR{hint}_{policy}.
  std::string strify(bool refresh_policy_printed = true) const;
  // This configuration for a run of `steps` denoising steps: a preset becomes its mask. Throws
  // CacheConfigError for a step count the preset does not support.
  DbCacheConfig for_steps(int steps) const;
};

}  // namespace glmh
