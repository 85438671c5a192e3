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
  hooks = chain_hooks(std::move(hooks), ExecutorHooks{
      {}, {}, [this](const Stage& stage, Request& r, RankContext& c) {
        if (stage.name() != ar_done_stage_) return;
        results_.push_back(request_equality_check(r.serialize(), c, compare_timings_));
        const at::Tensor tokens = r.has(field::kPriorTokenId) ? r.tensor(field::kPriorTokenId) : at::Tensor();
        results_.push_back(token_equality_check(tokens, c));
        // A rank without tokens cannot denoise: stop every rank here, with the failed check.
        const std::vector<double> held = gather_values(c.group(GroupKind::World), tokens.defined() ? 1.0 : 0.0);
        for (double h : held)
          if (h == 0) throw RunStopped("a rank holds no prior tokens after the AR stage");
      }});
}

}  // namespace glmh
