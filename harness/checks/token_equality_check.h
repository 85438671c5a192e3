// Token equality across ranks (docs/checks.md#token_equality): after the AR stage every rank must
// hold the same prior token ids. The actual tensors are gathered and compared with rank 0's, not
// hashes.
#pragma once

#include <ATen/core/Tensor.h>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

// `tokens`: this rank's prior_token_id, undefined when the rank never received any. Collective
// over the world; every rank gets the same result.
CheckResult token_equality_check(const at::Tensor& tokens, RankContext& ctx);

}  // namespace glmh
