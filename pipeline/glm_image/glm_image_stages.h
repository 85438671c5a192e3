// GLM-Image as stages on the parallel executor, in sglang's composition
// (docs/executor.md#glm-image-stages):
//
//   glm_image.ar                MAIN_RANK_ONLY_AND_SEND_TO_OTHERS  prompt -> prior tokens (and, for
//                                                                  image to image, the reference
//                                                                  image's VQ tokens); REPLICATED
//                                                                  under --ar-strategy replicated
//   glm_image.before_denoising  REPLICATED     glyph embeddings, initial latents, the reference
//                                              image's DiT KV cache
//   glm_image.denoising         CFG_PARALLEL   FlowMatch Euler with CFG over the DiT: the branches
//                                              on the two CFG ranks, the image tokens in bands
//                                              over SP, the DiT's heads over TP
//   glm_image.decoding          MAIN_RANK_ONLY de-normalise, VAE decode, 8-bit RGB
//
// Everything a stage produces that another rank needs travels in the Request; the DiT KV cache
// is per rank and lives in GlmImageRankState.
#pragma once

#include <memory>
#include <vector>

#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"
#include "pipeline/executor/stage.h"
#include "pipeline/model/dit/dit_kv_cache.h"

namespace glmh {

struct GlmImageRankState {
  std::unique_ptr<DitKvCache> reference_kv_cache;  // image to image only
};

struct GlmImageStageSet {
  std::shared_ptr<GlmImageModels> models;
  std::shared_ptr<GlmImageRankState> state;
  std::vector<std::unique_ptr<Stage>> stages;
};

// A fault changes the stages as the bug did (see GlmImageFault); cfg-rank-source adds a
// CFG_PARALLEL stage glm_image.ar_share after glm_image.ar.
GlmImageStageSet make_glm_image_stages(std::shared_ptr<GlmImageModels> models, GlmImageRunOptions options = {});

}  // namespace glmh
