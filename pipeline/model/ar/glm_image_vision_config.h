// The vision tower's and the VQ model's configs (vision_config and vq_config of
// vision_language_encoder/config.json) and the parameter shapes they imply. Torch-free: fuzzed on
// its own (fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

// vision_config of vision_language_encoder/config.json (upstream names, class defaults).
struct GlmImageVisionConfig {
  int64_t depth = 40;
  int64_t hidden_size = 1536;
  int64_t num_heads = 16;
  int64_t intermediate_size = 6144;
  int64_t in_channels = 3;
  int64_t image_size = 2048;
  int64_t patch_size = 16;
  int64_t spatial_merge_size = 1;
  bool attention_bias = true;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu";

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t patch_dim() const { return in_channels * patch_size * patch_size; }
  // The position table is (image_size / patch_size)^2 rows, read as a square.
  int64_t position_side() const { return image_size / patch_size; }

  // Reads `vision_config` when present (the pipeline component's layout), else `j` itself.
  static GlmImageVisionConfig from_json(const nlohmann::json& j, const std::string& source);
};

// vq_config of vision_language_encoder/config.json (GlmImageVQVAEConfig names and defaults).
struct GlmImageVQConfig {
  int64_t embed_dim = 2048;
  int64_t num_embeddings = 16384;
  int64_t latent_channels = 1536;
  int64_t in_channels = 3;

  // Reads `vq_config` when present, else `j` itself.
  static GlmImageVQConfig from_json(const nlohmann::json& j, const std::string& source);
};

// The tensors inference reads (model.visual.*, model.vqmodel.* without post_quant_conv), by
// checkpoint name.
std::map<std::string, std::vector<int64_t>> glm_image_vision_parameter_shapes(const GlmImageVisionConfig& vision,
                                                                               const GlmImageVQConfig& vq);

}  // namespace glmh
