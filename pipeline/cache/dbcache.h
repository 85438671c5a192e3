// DBCache with cache-dit's semantics (docs/cache-dit-releases.md#3-the-per-call-procedure), as the
// DiT's block cache: one context per request (a pipeline call), with separate state for the
// conditional and the unconditional branch. Per DiT call: the first Fn blocks run; the rules
// below decide, in order, whether the middle blocks are served from the cache; the last Bn
// blocks always run.
//
//   warmup step (0, I, 2I, ... below W, or below the mask's leading run of 1s) -> compute
//   steps mask: 1 -> compute; 0 -> hit (static) or on to the tests (dynamic)
//   max cached steps reached (this branch)                                  -> compute
//   max continuous cached steps reached (counted by the release's rule)     -> compute
//   threshold <= 0, or no reference residual yet                            -> compute
//   threshold >= 1                                                          -> hit
//   diff = mean|ref - F| / mean|ref| < threshold                            -> hit
//
// F is the image stream's residual over the first blocks, ref the branch's F of its last computed
// call. The diff is the only data-dependent input and the only host synchronisation of a call.
// Under SP/TP the two sums are reduced over the ranks that share the transformer before dividing
// (the `reduce` hook), so every rank takes the same decision.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/cache/taylor_seer.h"
#include "pipeline/model/dit/dit_block_cache.h"

namespace glmh {

enum class CfgBranch { Cond = 0, Uncond = 1 };

// One call's decision, as recorded for reports and checks.
struct CacheDecision {
  int step = -1;
  bool hit = false;
  double diff = -1;  // the threshold test's value; negative when no test ran
};

class DbCache final : public DitBlockCache {
 public:
  // `reduce` sums a [2] fp64 tensor (sum |ref - F|, sum |ref|) and a token count over the ranks
  // that share the transformer; empty: this rank alone.
  using Reduce = std::function<void(at::Tensor& sums)>;
  DbCache(CacheProfile profile, Reduce reduce = {});

  // Before each DiT call of the denoising loop, in cache-dit's call order (conditional first).
  // Under CFG-parallel a rank runs one branch: it marks the other branch's calls with skip_call,
  // which advances the shared counters as upstream's single context would.
  void begin_call(CfgBranch branch);
  void skip_call(CfgBranch branch);
  // The next call in upstream's order, its branch by the parity of the call count (with guidance
  // <= 1 upstream's separate-CFG context alternates the branches over the steps).
  void begin_next_call();

  int64_t first_blocks() const override { return profile_.config.fn; }
  int64_t last_blocks() const override { return profile_.config.bn; }
  bool serve_from_cache(const at::Tensor& fn_residual) override;
  void apply_cached(at::Tensor& image, at::Tensor& text) override;
  void store(const at::Tensor& fn_residual, const at::Tensor& image_residual, const at::Tensor& text_residual) override;

  // Under SP: only the first `tokens` image tokens of this rank's band are real (the rest pad).
  void set_valid_image_tokens(int64_t tokens) { valid_tokens_ = tokens; }
  // Image to image: the pipeline's reference-image KV-write calls before the loop (one per
  // condition image), which upstream counts as DiT calls; the profile's refresh hint must equal
  // their number (as cache-dit's GLM-Image edit example sets it). Throws CacheConfigError otherwise.
  void count_condition_writes(int images);

  // Called after each decision, before the DiT acts on it (e.g. a check that the ranks agree).
  void set_decision_hook(std::function<void(CfgBranch, const CacheDecision&)> hook) { hook_ = std::move(hook); }

  // Every decision of a branch, in step order.
  const std::vector<CacheDecision>& decisions(CfgBranch branch) const { return recorded_[int(branch)]; }
  const CacheProfile& profile() const { return profile_; }

 private:
  struct BranchState {
    std::vector<int> hits;  // steps served from the cache
    int streak = 0;         // the continuous-cached counter, by the release's rule
    at::Tensor reference;   // F of the last computed call
    at::Tensor image_residual, text_residual;
    std::unique_ptr<TaylorSeer> image_seer, text_seer;
  };
  void reset_context();
  bool refresh_due() const;
  void advance(CfgBranch branch);  // counters and refresh, as upstream's call start
  std::optional<bool> rule_decision(BranchState& b, int step);  // nullopt: go on to the diff test
  double residual_diff(const BranchState& b, const at::Tensor& fn_residual);

  CacheProfile profile_;
  Reduce reduce_;
  int calls_ = 0, steps_ = 0;  // in this context (a forced refresh starts a new one)
  bool refresh_hint_active_ = false;
  CfgBranch branch_ = CfgBranch::Cond;
  int step_ = 0;
  std::array<BranchState, 2> state_;
  std::array<std::vector<CacheDecision>, 2> recorded_;  // across context refreshes
  int64_t valid_tokens_ = -1;                           // -1: every token
  std::function<void(CfgBranch, const CacheDecision&)> hook_;
};

}  // namespace glmh
