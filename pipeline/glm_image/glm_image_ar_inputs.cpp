#include "pipeline/glm_image/glm_image_ar_inputs.h"

#include <ATen/ATen.h>

#include "pipeline/model/ar/ar_prompt.h"
#include "pipeline/model/ar/glm_image_image_processor.h"

namespace glmh {

GlmImageArInputs glm_image_ar_inputs(GlmImageModels& m, const GlmImageParams& p) {
  GlmImageArInputs in;
  if (p.reference_image.defined()) {
    // The reference's d32 tokens: ViT + VQ, placed into the prompt.
    const ProcessedImage processed = glm_image_preprocess(p.reference_image);
    in.source_grids.push_back(processed.grid);
    in.source_vq_ids = m.vision().encode(processed.pixel_values.to(m.device(), m.dtype()), in.source_grids).vq_ids;
  }
  const ArPrompt prompt = in.source_grids.empty()
                              ? build_t2i_prompt(m.tokenizer(), p.prompt, p.height, p.width)
                              : build_i2i_prompt(m.tokenizer(), p.prompt, p.height, p.width, in.source_grids);
  in.grids = prompt.grids;
  in.input_ids = at::tensor(prompt.input_ids, at::TensorOptions().dtype(at::kLong)).view({1, -1}).to(m.device());
  if (in.source_vq_ids.defined()) {
    const at::Tensor placeholders = in.input_ids == m.token_ids().image_token_id;
    in.input_ids = in.input_ids.masked_scatter(placeholders, in.source_vq_ids.to(at::kLong));
  }
  return in;
}

}  // namespace glmh
