// The checks glmh run makes while the stages run, wired into the stages' and the executor's
// hooks: rotary_sharding when the denoising stage has cut its SP shards (before the DiT uses
// them), request_equality and token_equality once the AR stage's result has reached every rank
// (a rank without prior tokens, or tokens other than the single-rank run's on every rank, stop the
// run: its output could only be compared with another image's; tokens that differ by numerics the
// layout allows are replaced by the single-rank run's, so that output parity still means something),
// and (cached runs) cache_consistency after every cache decision, before the DiT acts on it: ranks
// that disagree would next run different collectives. A rank without prior tokens or a cache
// decision that differs between ranks stops the run on every rank (RunStopped) with the failed
// check.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "harness/checks/check_result.h"
#include "harness/checks/token_equality_check.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"

namespace glmh {

class InRunChecks {
 public:
  // `compare_timings`: the requests must match in their stage timings too (they do when rank 0's
  // request was sent to the others).
  // `tokens`: the single-rank run's prior tokens for token_equality.
  InRunChecks(bool compare_timings, int64_t head_dim, TokenReference tokens)
      : compare_timings_(compare_timings), head_dim_(head_dim), reference_tokens_(std::move(tokens)) {}

  // Installs the checks into the run's options and hooks. `this` must outlive the run.
  void attach(GlmImageRunOptions& options, ExecutorHooks& hooks);
  // The stage after which every rank holds the AR stage's result.
  void set_ar_done_stage(std::string stage) { ar_done_stage_ = std::move(stage); }
  // Explains tokens that differ from the single-rank run's (collective; see TokenReference).
  using DivergenceExplainer = std::function<TokenDivergenceVerdict(const Request&, RankContext&)>;
  void set_divergence_explainer(DivergenceExplainer explain) { explain_ = std::move(explain); }
  // The single-rank run's generated ids, which replace the layout's together with its prior
  // tokens when token_equality lets the run go on with them.
  void set_reference_generated_ids(at::Tensor ids) { reference_generated_ = std::move(ids); }

  std::vector<CheckResult>& results() { return results_; }
  // Whether the cache decisions were found to differ between ranks (the run then stopped).
  bool cache_decisions_diverged() const { return cache_diverged_; }

 private:
  std::string ar_done_stage_;
  bool compare_timings_;
  int64_t head_dim_;
  TokenReference reference_tokens_;
  DivergenceExplainer explain_;
  at::Tensor reference_generated_;
  std::vector<CheckResult> results_;
  bool cache_diverged_ = false;
};

}  // namespace glmh
