// The AR model teacher-forced on a given generation (docs/checks.md#first-divergence): the prompt
// is prefilled and the given tokens are fed back one by one, exactly as generate_image_tokens
// feeds its own (same cache size, positions, slots and kernels), so row j of the result is,
// bit for bit, the logits a generation whose tokens 0..j-1 were these would have drawn token j
// from. A tensor-parallel model makes this collective over its group.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "pipeline/model/ar/ar_positions.h"

namespace glmh {

class GlmImageTextModel;
struct GlmImageTokenIds;

// input_ids [1, S] (the prompt generation started from), generated [1, T] (or [T]) -> float32
// logits [count, V] for tokens 0..count-1 (1 <= count <= T), on the model's device.
at::Tensor teacher_forced_logits(const GlmImageTextModel& model, const GlmImageTokenIds& ids,
                                 const at::Tensor& input_ids, const std::vector<GridThw>& grids,
                                 const at::Tensor& generated, int64_t count);

}  // namespace glmh
