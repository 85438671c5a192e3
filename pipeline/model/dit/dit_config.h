// transformer/config.json of GlmImageTransformer2DModel: upstream field names and class defaults
// (the real checkpoint overrides attention_head_dim 128 and num_attention_heads 32).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

struct GlmImageDiTConfig {
  int64_t patch_size = 2;
  int64_t in_channels = 16;
  int64_t out_channels = 16;
  int64_t num_layers = 30;
  int64_t attention_head_dim = 40;
  int64_t num_attention_heads = 64;
  int64_t text_embed_dim = 1472;
  int64_t time_embed_dim = 512;
  int64_t condition_dim = 256;
  int64_t prior_vq_quantizer_codebook_size = 16384;

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }

  // Missing fields take the class defaults; a field of the wrong type or a value that cannot
  // work (odd head dim: RoPE splits it in halves) throws CheckpointError naming `source`.
  static GlmImageDiTConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// Every parameter of the model with its shape, in name order (the checkpoint's tensor names).
std::map<std::string, std::vector<int64_t>> dit_parameter_shapes(const GlmImageDiTConfig& config);

}  // namespace glmh
