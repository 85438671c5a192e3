// Token equality (docs/checks.md#token_equality): after the AR stage every rank must hold the same
// prior token ids — the actual tensors are gathered and compared with rank 0's, not hashes — and,
// where the layout's numerics make them comparable, the single-rank reference's ids, with the
// first differing position named.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

struct TokenReference {
  at::Tensor tokens;            // the single-rank run's prior_token_id; undefined: none given
  std::string not_comparable;   // why this layout's tokens may legitimately differ ("": comparable)
};

// `tokens`: this rank's prior_token_id, undefined when the rank never received any. Collective
// over the world; every rank gets the same result. `stop` (optional) is set when the run cannot
// usefully go on: a rank holds no tokens, or every rank holds tokens other than the single-rank
// run's (ranks that merely disagree go on: CFG's broadcast may still give the right image).
CheckResult token_equality_check(const at::Tensor& tokens, const TokenReference& reference, RankContext& ctx,
                                 bool* stop = nullptr);

}  // namespace glmh
