// Shard-correct rotary embeddings and token coverage under sequence parallelism
// (docs/checks.md#rotary_sharding), checked on the shards the denoising stage is about to use:
//   - each rank's cos and sin equal the rows of the full table for its tokens (padding tokens
//     repeat the last token row);
//   - the shards concatenated in rank order equal the padded full table;
//   - the latent band, the prior-id slice and the rotary rows cover the same tokens: each equals
//     the matching slice of the whole (zeros / id 0 for padding) and they have one row per token.
// The expected rows are computed here from token indices, independently of the sharding code.
#pragma once

#include <ATen/core/Tensor.h>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;
struct SpShardPlan;
struct SpShards;

struct WholeSequence {
  at::Tensor cos, sin;        // the full table [Hp * Wp, D/2]
  at::Tensor latents;         // [B, C, H', W']
  at::Tensor prior_ids;       // [B, Hp * Wp]
};

// Collective over the world (every rank's result is the same).
CheckResult rotary_sharding_check(const SpShardPlan& plan, const SpShards& mine, const WholeSequence& whole,
                                  RankContext& ctx);

}  // namespace glmh
