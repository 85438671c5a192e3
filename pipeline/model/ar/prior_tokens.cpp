#include "pipeline/model/ar/prior_tokens.h"

#include <ATen/ATen.h>

#include <numeric>
#include <stdexcept>
#include <string>

namespace glmh {

GenerationPlan plan_generation(const std::vector<GridThw>& grids, bool text_to_image) {
  if (grids.empty()) throw std::invalid_argument("plan_generation: no image grid");
  GenerationPlan p;
  if (text_to_image) {
    for (const auto& g : grids) p.max_new_tokens += g[1] * g[2];
    p.max_new_tokens += 1;
    for (size_t i = 1; i < grids.size(); ++i) p.target_offset += grids[i][1] * grids[i][2];
    p.target_h = grids[0][1];
    p.target_w = grids[0][2];
  } else {
    p.max_new_tokens = grids.back()[1] * grids.back()[2] + 1;
    p.target_h = grids.back()[1];
    p.target_w = grids.back()[2];
  }
  return p;
}

at::Tensor prior_tokens_from_generated(const at::Tensor& generated, const GenerationPlan& plan) {
  const int64_t count = plan.target_h * plan.target_w;
  if (generated.numel() < plan.target_offset + count)
    throw std::invalid_argument("the AR stage generated " + std::to_string(generated.numel()) +
                                " tokens, fewer than the " + std::to_string(plan.target_offset + count) +
                                " that reach the end of the target grid");
  const at::Tensor d32 = generated.reshape({-1}).narrow(0, plan.target_offset, count).view({plan.target_h, plan.target_w});
  // Nearest x2: d32 token (r, c) fills d16 cells (2r..2r+1, 2c..2c+1).
  return d32.repeat_interleave(2, 0).repeat_interleave(2, 1).reshape({1, -1}).to(at::kLong);
}

}  // namespace glmh
