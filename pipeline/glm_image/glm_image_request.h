// A GLM-Image generation request: what the user asks for, as Request fields the stages read, and
// the names of the fields the stages add. Field names are upstream's where upstream has one
// (prior_token_id, latents).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "pipeline/executor/request.h"
#include "pipeline/model/ar/token_sampler.h"

namespace glmh {

struct GlmImageParams {
  std::string prompt;
  int64_t height = 1024, width = 1024;  // pixels, multiples of 32
  int64_t steps = 30;                   // README / sglang default (diffusers: 50)
  double guidance = 1.5;                // CFG runs when guidance > 1
  uint64_t seed = 42;
  int64_t glyph_max_length = 2048;      // diffusers (sglang: 1024)
  SamplingConfig sampling;              // AR
  at::Tensor reference_image;           // image to image: uint8 [H, W, 3]; undefined for text to image
  at::Tensor noise;                     // fixed initial latents [1, 16, H/8, W/8]; undefined: drawn from seed
};

namespace field {
// Inputs
inline const std::string kPrompt = "prompt", kHeight = "height", kWidth = "width", kSteps = "steps",
                         kGuidance = "guidance", kSeed = "seed", kGlyphMaxLength = "glyph_max_length",
                         kGreedy = "ar_greedy", kTemperature = "ar_temperature", kTopK = "ar_top_k",
                         kTopP = "ar_top_p", kReferenceImage = "reference_image", kNoise = "noise";
// Added by the AR stage
inline const std::string kPriorTokenId = "prior_token_id";          // [1, (H/16)(W/16)] int64
inline const std::string kGeneratedIds = "ar_generated_ids";        // [1, T] int64
inline const std::string kReferencePriorIds = "reference_prior_ids";  // [1, (h/16)(w/16)] int64 (I2I)
// Added before denoising
inline const std::string kGlyphEmbeds = "glyph_embeds", kGlyphEmbedsUncond = "glyph_embeds_uncond",
                         kLatents = "latents";  // fp32 [1, 16, H/8, W/8]: the noise, then the result
// Added by denoising with a block cache, per rank: [2, steps] (row 0 conditional, row 1
// unconditional); hits 1 / 0 / -1 (branch not run on this rank), diffs NaN where no test ran
inline const std::string kCacheHits = "cache_hits", kCacheDiffs = "cache_diffs";
// Added by decoding
inline const std::string kImage = "image";  // uint8 [H, W, 3] on the CPU
}  // namespace field

// Checks the parameters (std::invalid_argument naming the field) and writes them as fields.
Request make_glm_image_request(const GlmImageParams& params);
GlmImageParams glm_image_params(const Request& request);

}  // namespace glmh
