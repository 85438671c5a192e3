// From the AR model's output to the DiT's prior tokens (diffusers GlmImagePipeline):
// how many tokens to generate, where the target grid sits among them, and its 2x nearest
// upsampling from the d32 token grid to the d16 grid of DiT patches.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "pipeline/model/ar/ar_positions.h"

namespace glmh {

struct GenerationPlan {
  int64_t max_new_tokens = 0;  // every remaining grid's tokens plus the end marker
  int64_t target_offset = 0;   // index of the target grid's first token among the generated ones
  int64_t target_h = 0, target_w = 0;
};

// Text to image: grids = [target, preview], the preview is generated first. Image to image:
// grids = [sources..., target], only the target is generated.
GenerationPlan plan_generation(const std::vector<GridThw>& grids, bool text_to_image);

// generated [T] (the tokens after the prompt) -> prior_token_ids [1, (2h)(2w)] int64.
at::Tensor prior_tokens_from_generated(const at::Tensor& generated, const GenerationPlan& plan);

}  // namespace glmh
