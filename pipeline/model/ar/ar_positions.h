// The AR model's 3-D (t, h, w) position ids (transformers GlmImageModel.get_rope_index), batch 1.
//
// Prefill: text tokens count up p, p, p; the tokens of a source image (between an image-start
// and an image-end marker) get t = c, h = c + row, w = c + col, after which the counter jumps by
// max(h, w). Decode: the grids still to generate, in reverse order of image_grid_thw (text to
// image: the preview grid first, then the target grid), each laid out the same way from the
// running counter, then one entry for the end marker. Entry j is the position of the j-th
// generated token when it is fed back.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace glmh {

using GridThw = std::array<int64_t, 3>;  // (t, h, w)

struct ArPositions {
  at::Tensor prefill;  // [3, S] int64
  at::Tensor decode;   // [3, D] int64 (empty when no grid remains to generate)
};

ArPositions glm_image_rope_index(const std::vector<int64_t>& input_ids, const std::vector<GridThw>& grids,
                                 int64_t image_start_token_id, int64_t image_end_token_id);

}  // namespace glmh
