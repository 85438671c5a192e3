#include "harness/checks/in_run_checks.h"

#include <ATen/ATen.h>

#include <tuple>

#include "harness/checks/rank_gather.h"
#include "harness/checks/request_equality_check.h"
#include "harness/checks/rotary_sharding_check.h"
#include "harness/checks/token_equality_check.h"
#include "pipeline/executor/request.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/runtime/rank_context.h"
#include "pipeline/runtime/communicator.h"

namespace glmh {

void InRunChecks::attach(GlmImageRunOptions& options, ExecutorHooks& hooks) {
  options.on_sp_shards = [this](RankContext& c, const Request& r, const SpShardPlan& plan, const SpShards& shards) {
    WholeSequence whole;
    std::tie(whole.cos, whole.sin) = get_freqs_cis(plan.grid_h, plan.grid_w, head_dim_);
    whole.latents = r.tensor(field::kLatents);
    whole.prior_ids = r.tensor(field::kPriorTokenId);
    results_.push_back(rotary_sharding_check(plan, shards, whole, c));
    if (results_.back().failed()) throw RunStopped("the SP shards are wrong: " + results_.back().detail);
  };
  options.on_cache_decision = [this](RankContext& c, CfgBranch branch, const CacheDecision& d) {
    // [branch, step, hit, diff] of every rank; the ranks of one branch must agree bitwise.
    Communicator& world = c.group(GroupKind::World);
    const at::Tensor mine =
        at::tensor({double(branch), double(d.step), d.hit ? 1.0 : 0.0, d.diff}, at::kDouble).to(c.device());
    at::Tensor all = at::empty({world.size(), 4}, mine.options());
    world.all_gather(all, mine);
    c.synchronize_device();
    const at::Tensor rows = all.cpu();
    std::string problems;
    for (int64_t r = 1; r < world.size(); ++r)
      for (int64_t q = 0; q < r; ++q) {
        if (rows[r][0].item<double>() != rows[q][0].item<double>() || at::equal(rows[r], rows[q])) continue;
        problems += (problems.empty() ? "" : "; ") + std::string(branch == CfgBranch::Cond ? "cond" : "uncond") +
                    " step " + std::to_string(d.step) + ": rank " + std::to_string(r) +
                    (rows[r][2].item<double>() > 0 ? " cached" : " computed") + " at diff " +
                    std::to_string(rows[r][3].item<double>()) + ", rank " + std::to_string(q) +
                    (rows[q][2].item<double>() > 0 ? " cached" : " computed") + " at diff " +
                    std::to_string(rows[q][3].item<double>());
        break;
      }
    if (problems.empty()) return;
    cache_diverged_ = true;
    results_.push_back(CheckResult::pass_or_fail("cache_consistency", false, 1, 0, "ranks disagree: " + problems));
    throw RunStopped("the ranks' cache decisions differ: " + problems);
  };
  hooks = chain_hooks(std::move(hooks), ExecutorHooks{
      {}, {}, [this](const Stage& stage, Request& r, RankContext& c) {
        if (stage.name() != ar_done_stage_) return;
        results_.push_back(request_equality_check(r.serialize(), c, compare_timings_));
        const at::Tensor tokens = r.has(field::kPriorTokenId) ? r.tensor(field::kPriorTokenId) : at::Tensor();
        TokenReference reference = reference_tokens_;
        if (explain_) reference.explain = [&] { return explain_(r, c); };
        TokenEqualityOutcome outcome;
        results_.push_back(token_equality_check(tokens, reference, c, &outcome));
        // Every rank has the same verdict. A rank without tokens cannot denoise, and tokens other
        // than the single-rank run's can only give another image: stop every rank here.
        if (outcome.stop) throw RunStopped("the prior tokens are wrong: " + results_.back().detail);
        if (outcome.use_reference_tokens) {
          r.set_tensor(field::kPriorTokenId, reference_tokens_.tokens.to(tokens.device(), tokens.scalar_type()));
          if (reference_generated_.defined()) r.set_tensor(field::kGeneratedIds, reference_generated_.to(tokens.device()));
        }
      }});
}

}  // namespace glmh
