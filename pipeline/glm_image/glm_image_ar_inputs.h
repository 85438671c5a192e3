// The AR model's input for a request: the prompt's token ids (for image to image with the source
// image's VQ ids in place of its placeholders) and the image grids, built the same way for the AR
// stage and for anything that re-runs the AR model on a request (ar_teacher_forcing.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/model/ar/ar_positions.h"

namespace glmh {

struct GlmImageArInputs {
  at::Tensor input_ids;                // [1, S] int64 on the models' device
  std::vector<GridThw> grids;          // the processor's image_grid_thw
  std::vector<GridThw> source_grids;   // image to image: the source image's grid
  at::Tensor source_vq_ids;            // image to image: the source image's VQ ids; else undefined
};

// Runs the vision encoder for an image-to-image request.
GlmImageArInputs glm_image_ar_inputs(GlmImageModels& models, const GlmImageParams& params);

}  // namespace glmh
