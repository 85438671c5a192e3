#include "pipeline/cache/dbcache.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace glmh {

DbCache::DbCache(CacheProfile profile, Reduce reduce) : profile_(std::move(profile)), reduce_(std::move(reduce)) {
  const DbCacheConfig& c = profile_.config;
  if (!c.mask_preset.empty())
    throw CacheConfigError("cache config '" + c.strify() + "': the mask preset is expanded for the run's steps first (for_steps)");
  if (c.refresh_policy == RefreshPolicy::Repeat && c.force_refresh_step_hint)
    throw CacheConfigError("cache config '" + c.strify() + "': the 'repeat' refresh policy is not reproduced by glmh");
  if (c.fn < 1 || c.bn < 0) throw CacheConfigError("cache config '" + c.strify() + "': Fn >= 1 and Bn >= 0");
  refresh_hint_active_ = c.force_refresh_step_hint.has_value();
  reset_context();
}

void DbCache::reset_context() {
  calls_ = steps_ = 0;
  for (auto& b : state_) {
    b = BranchState{};
    if (profile_.config.taylorseer_order > 0) {
      b.image_seer = std::make_unique<TaylorSeer>(profile_.config.taylorseer_order);
      b.text_seer = std::make_unique<TaylorSeer>(profile_.config.taylorseer_order);
    }
  }
}

void DbCache::count_condition_writes(int images) {
  const auto& hint = profile_.config.force_refresh_step_hint;
  if (!hint && images == 0) return;
  if (!hint || *hint != images)
    throw CacheConfigError("cache config '" + profile_.config.strify() + "': " +
                           (images == 0 ? std::string("text to image takes no _FR hint")
                                        : "image to image with " + std::to_string(images) +
                                              " reference image(s) needs _FR" + std::to_string(images)) +
                           " (upstream counts one DiT call per reference image before the loop and refreshes "
                           "after `hint` calls; any other hint swaps its branches)");
  calls_ = images;  // the loop's first call then refreshes the context, as upstream's does
}

bool DbCache::refresh_due() const {
  // A new context after `hint` calls (once), or after num_inference_steps steps.
  const DbCacheConfig& c = profile_.config;
  return (refresh_hint_active_ && calls_ == *c.force_refresh_step_hint) ||
         (c.num_inference_steps && steps_ - 1 >= *c.num_inference_steps);
}

void DbCache::begin_next_call() {
  const int k = refresh_due() ? 0 : calls_;
  begin_call(k % 2 == 0 ? CfgBranch::Cond : CfgBranch::Uncond);
}

void DbCache::advance(CfgBranch branch) {
  if (refresh_due()) {
    refresh_hint_active_ = false;  // 'once': the hint is spent
    reset_context();
  }
  const int k = calls_++;
  // Upstream tells the branches apart by the parity of the call count (conditional first).
  const CfgBranch by_parity = k % 2 == 0 ? CfgBranch::Cond : CfgBranch::Uncond;
  if (by_parity != branch)
    throw std::logic_error("DbCache: call " + std::to_string(k) + " is the " +
                           (by_parity == CfgBranch::Cond ? "conditional" : "unconditional") +
                           " branch's in upstream's order, but the other branch made it");
  if (branch == CfgBranch::Cond) ++steps_;
  branch_ = branch;
  step_ = steps_ - 1;
}

void DbCache::skip_call(CfgBranch branch) { advance(branch); }

void DbCache::begin_call(CfgBranch branch) {
  advance(branch);
  BranchState& b = state_[int(branch)];
  if (profile_.release.continuous_rule == ContinuousRule::Reset && (b.hits.empty() || b.hits.back() != step_ - 1))
    b.streak = 0;
  if (b.image_seer) {
    b.image_seer->tick();
    b.text_seer->tick();
  }
}

std::optional<bool> DbCache::rule_decision(BranchState& b, int s) {
  const DbCacheConfig& c = profile_.config;
  int warmup = c.max_warmup_steps;
  if (!c.steps_mask.empty()) {
    const auto lead = std::find(c.steps_mask.begin(), c.steps_mask.end(), 0) - c.steps_mask.begin();
    warmup = std::min<int>(warmup, int(lead));
  }
  if (s < warmup && s % c.warmup_interval == 0) return false;
  if (!c.steps_mask.empty()) {
    if (s < int(c.steps_mask.size()) && c.steps_mask[s] == 1) return false;
    if (c.mask_policy == StepMaskPolicy::Static) {
      if (!b.reference.defined())
        throw CacheConfigError("cache config '" + c.strify() + "': the static mask caches step " + std::to_string(s) +
                               " before anything was computed");
      return true;
    }
  }
  if (c.max_cached_steps >= 0 && int(b.hits.size()) >= c.max_cached_steps) return false;
  if (c.max_continuous_cached_steps >= 0 && b.streak >= c.max_continuous_cached_steps) {
    if (profile_.release.continuous_rule == ContinuousRule::PlusTwo) b.streak = 0;
    return false;
  }
  if (c.residual_diff_threshold <= 0 || !b.reference.defined()) return false;
  if (c.residual_diff_threshold >= 1) return true;
  return std::nullopt;
}

double DbCache::residual_diff(const BranchState& b, const at::Tensor& fn_residual) {
  at::Tensor f = fn_residual, ref = b.reference;
  if (valid_tokens_ >= 0) {
    f = f.narrow(1, 0, valid_tokens_);
    ref = ref.narrow(1, 0, valid_tokens_);
  }
  // The two sums in fp64 (the ratio of means is the ratio of sums), reduced over the ranks that
  // share the transformer, then rounded to the activation dtype as upstream's ratio is.
  at::Tensor sums = at::stack({(ref - f).abs().sum(at::kDouble), ref.abs().sum(at::kDouble)});
  if (reduce_) reduce_(sums);
  const at::Tensor ratio = (sums[0] / sums[1]).to(fn_residual.scalar_type());
  return ratio.item<double>();  // the call's one host synchronisation
}

bool DbCache::serve_from_cache(const at::Tensor& fn_residual) {
  BranchState& b = state_[int(branch_)];
  CacheDecision d;
  d.step = step_;
  if (const auto by_rule = rule_decision(b, step_)) {
    d.hit = *by_rule;
  } else {
    d.diff = residual_diff(b, fn_residual);
    d.hit = d.diff < profile_.config.residual_diff_threshold;
  }
  if (d.hit) {
    if (profile_.release.continuous_rule == ContinuousRule::PlusTwo) {
      if (b.hits.empty()) b.streak += 1;
      else if (b.hits.back() == step_ - 1) b.streak += b.streak == 0 ? 2 : 1;
    } else {
      b.streak += 1;
    }
    b.hits.push_back(step_);
  }
  recorded_[int(branch_)].push_back(d);
  if (hook_) hook_(branch_, d);
  return d.hit;
}

void DbCache::apply_cached(at::Tensor& image, at::Tensor& text) {
  const BranchState& b = state_[int(branch_)];
  if (b.image_seer) {
    image = b.image_seer->forecast() + image;
    text = b.text_seer->forecast() + text;
  } else {
    image = b.image_residual + image;
    if (b.text_residual.defined()) text = b.text_residual + text;
  }
}

void DbCache::store(const at::Tensor& fn_residual, const at::Tensor& image_residual, const at::Tensor& text_residual) {
  BranchState& b = state_[int(branch_)];
  b.reference = fn_residual;
  if (b.image_seer) {
    b.image_seer->update(image_residual);
    b.text_seer->update(text_residual);
  } else {
    b.image_residual = image_residual;
    b.text_residual = text_residual;
  }
}

}  // namespace glmh
