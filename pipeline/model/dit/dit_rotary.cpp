#include "pipeline/model/dit/dit_rotary.h"

#include <ATen/ATen.h>

namespace glmh {

std::pair<at::Tensor, at::Tensor> get_freqs_cis(int64_t grid_height, int64_t grid_width, int64_t head_dim,
                                                double theta) {
  const int64_t half = head_dim / 2;  // angles per token
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // theta^(-(2j) / half) for j < half/2, computed as upstream does (fp32 arange / half).
  const at::Tensor inv_freq = 1.0 / at::pow(theta, at::arange(0, half, 2, f32).narrow(0, 0, half / 2) / double(half));
  const at::Tensor rows = at::outer(at::arange(grid_height, f32), inv_freq);  // [Hp, half/2]
  const at::Tensor cols = at::outer(at::arange(grid_width, f32), inv_freq);   // [Wp, half/2]
  const at::Tensor freqs = at::cat({rows.unsqueeze(1).expand({grid_height, grid_width, half / 2}),
                                    cols.unsqueeze(0).expand({grid_height, grid_width, half / 2})},
                                   -1)
                               .reshape({grid_height * grid_width, half});
  return {freqs.cos(), freqs.sin()};
}
}  // namespace glmh
