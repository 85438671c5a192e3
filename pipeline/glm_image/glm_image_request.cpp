#include "pipeline/glm_image/glm_image_request.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "pipeline/model/ar/glm_image_image_processor.h"

namespace glmh {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("request: " + what);
}

// The reference's VQ tokens, 2x upsampled, are the prior ids of its DiT pass, whose latent grid
// comes from the image itself (sides floored to 16 pixels): the two grids must agree, which holds
// for the sizes GLM-Image's processor keeps (between 512 x 512 and 2048 x 2048 pixels).
void check_reference_grids(const at::Tensor& rgb) {
  const GlmImageProcessorConfig processor;
  const int64_t h = rgb.size(0), w = rgb.size(1), factor = processor.patch_size * processor.merge_size;
  const auto [ph, pw] = glm_image_smart_resize(h, w, factor, processor.min_pixels, processor.max_pixels);
  const int64_t token_h = 2 * ph / factor, token_w = 2 * pw / factor, dit_h = h / 16, dit_w = w / 16;
  require(token_h == dit_h && token_w == dit_w,
          "reference_image " + std::to_string(w) + "x" + std::to_string(h) + ": its AR tokens upsample to a " +
              std::to_string(token_w) + "x" + std::to_string(token_h) + " grid but its DiT grid is " +
              std::to_string(dit_w) + "x" + std::to_string(dit_h) +
              " (use a reference between 512x512 and 2048x2048 pixels, sides multiples of 32)");
}

}  // namespace

Request make_glm_image_request(const GlmImageParams& p) {
  require(p.height >= 32 && p.height % 32 == 0, "height must be a positive multiple of 32, got " + std::to_string(p.height));
  require(p.width >= 32 && p.width % 32 == 0, "width must be a positive multiple of 32, got " + std::to_string(p.width));
  require(p.steps >= 1, "steps must be >= 1, got " + std::to_string(p.steps));
  require(p.guidance >= 0, "guidance must be >= 0");
  require(p.glyph_max_length >= 1, "glyph_max_length must be >= 1");
  require(p.sampling.greedy || p.sampling.temperature > 0, "temperature must be > 0");
  require(p.sampling.top_p > 0 && p.sampling.top_p <= 1, "top_p must be in (0, 1]");
  require(p.sampling.top_k >= 0, "top_k must be >= 0");
  Request r;
  r.set_string(field::kPrompt, p.prompt);
  r.set_int(field::kHeight, p.height);
  r.set_int(field::kWidth, p.width);
  r.set_int(field::kSteps, p.steps);
  r.set_double(field::kGuidance, p.guidance);
  r.set_int(field::kSeed, static_cast<int64_t>(p.seed));
  r.set_int(field::kGlyphMaxLength, p.glyph_max_length);
  r.set_bool(field::kGreedy, p.sampling.greedy);
  r.set_double(field::kTemperature, p.sampling.temperature);
  r.set_int(field::kTopK, p.sampling.top_k);
  r.set_double(field::kTopP, p.sampling.top_p);
  if (p.reference_image.defined()) {
    require(p.reference_image.dim() == 3 && p.reference_image.size(2) == 3 && p.reference_image.scalar_type() == at::kByte,
            "reference_image must be uint8 [H, W, 3]");
    check_reference_grids(p.reference_image);
    r.set_tensor(field::kReferenceImage, p.reference_image.cpu());
  }
  if (p.noise.defined()) {
    const std::vector<int64_t> want = {1, 16, p.height / 8, p.width / 8};
    require(p.noise.sizes().vec() == want, "noise must be [1, 16, H/8, W/8]");
    r.set_tensor(field::kNoise, p.noise.to(at::kFloat));
  }
  return r;
}

GlmImageParams glm_image_params(const Request& r) {
  GlmImageParams p;
  p.prompt = r.get_string(field::kPrompt);
  p.height = r.get_int(field::kHeight);
  p.width = r.get_int(field::kWidth);
  p.steps = r.get_int(field::kSteps);
  p.guidance = r.get_double(field::kGuidance);
  p.seed = static_cast<uint64_t>(r.get_int(field::kSeed));
  p.glyph_max_length = r.get_int(field::kGlyphMaxLength);
  p.sampling.greedy = r.get_bool(field::kGreedy);
  p.sampling.temperature = r.get_double(field::kTemperature);
  p.sampling.top_k = r.get_int(field::kTopK);
  p.sampling.top_p = r.get_double(field::kTopP);
  if (r.has(field::kReferenceImage)) p.reference_image = r.tensor(field::kReferenceImage);
  if (r.has(field::kNoise)) p.noise = r.tensor(field::kNoise);
  return p;
}

}  // namespace glmh
