// Token equality (docs/checks.md#token_equality): after the AR stage every rank must hold the same
// prior token ids — the actual tensors are gathered and compared with rank 0's, not hashes — and,
// where the layout's numerics make them comparable, the single-rank reference's ids, with the
// first differing position named.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

// What explains a difference from the single-rank run's tokens (ar_first_divergence.h).
struct TokenDivergenceVerdict {
  bool numerics = false;  // rounding flipped a near tie: not a defect
  std::string text;       // the first divergence, its figures and the verdict
};

struct TokenReference {
  at::Tensor tokens;            // the single-rank run's prior_token_id; undefined: none given
  std::string not_comparable;   // why this layout's tokens may legitimately differ ("": comparable)
  // Explains a difference (collective over the world, the same verdict on every rank); empty: no
  // explanation is attempted.
  std::function<TokenDivergenceVerdict()> explain;
};

struct TokenEqualityOutcome {
  // The run cannot usefully go on: a rank holds no tokens, or every rank holds tokens other than
  // the single-rank run's for no reason the layout allows (ranks that merely disagree go on:
  // CFG's broadcast may still give the right image).
  bool stop = false;
  // The tokens differ from the single-rank run's by numerics the layout allows: the run goes on
  // with the single-rank run's tokens, so that output parity still checks everything after the AR.
  bool use_reference_tokens = false;
};

// `tokens`: this rank's prior_token_id, undefined when the rank never received any. Collective
// over the world; every rank gets the same result.
CheckResult token_equality_check(const at::Tensor& tokens, const TokenReference& reference, RankContext& ctx,
                                 TokenEqualityOutcome* outcome = nullptr);

}  // namespace glmh
