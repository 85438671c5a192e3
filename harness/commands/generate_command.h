// glmh generate: one GLM-Image request end to end on one rank — AR prior tokens, glyph
// embeddings, denoising, VAE decode — writing image.png, latents.safetensors and
// prior_tokens.safetensors.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int generate_command(const std::vector<std::string>& args);

}  // namespace glmh
