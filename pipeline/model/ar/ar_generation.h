// The AR stage's generation loop (GlmImageForConditionalGeneration.generate as the pipelines call
// it, docs/model.md#position-ids, #generation-plan): prefill the prompt into a KV cache, then one
// token per step, fed back at its precomputed 3-D position, until every grid still to generate and
// the end marker are out. The number of tokens is known from the grids, so the loop never asks the
// device whether an end marker came: no host synchronisation inside a decode step.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "pipeline/model/ar/ar_positions.h"
#include "pipeline/model/ar/token_sampler.h"

namespace glmh {

class GlmImageTextModel;
struct GlmImageTokenIds;

struct ArGenerationOptions {
  SamplingConfig sampling;
  uint64_t seed = 0;
  // While a grid is generated, only codebook ids may be chosen (an id outside the codebook is
  // meaningless to the DiT). Off reproduces upstream exactly, which does not restrict.
  bool restrict_grids_to_codebook = true;
  std::function<void(int64_t done, int64_t total)> on_token;  // progress, called from the host loop
  // On a CUDA device, replay the decode step as a CUDA graph (ar_decode_graph.h); a tensor-parallel
  // model always runs eagerly.
  bool use_cuda_graph = true;
};

struct ArGeneration {
  at::Tensor generated;  // [1, T] int64 on the model's device: every grid token, then the end marker
  int64_t prompt_tokens = 0;
};

// input_ids: the prompt (source-image placeholders already replaced by their VQ ids); grids: the
// processor's image_grid_thw. Batch 1.
ArGeneration generate_image_tokens(const GlmImageTextModel& model, const GlmImageTokenIds& ids,
                                   const at::Tensor& input_ids, const std::vector<GridThw>& grids,
                                   const ArGenerationOptions& options);

}  // namespace glmh
