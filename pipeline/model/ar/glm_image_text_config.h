// The AR decoder's config: text_config and the token ids of vision_language_encoder/config.json,
// and the parameter shapes they imply. Torch-free: fuzzed on its own (fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/activation_config.h"

namespace glmh {

// text_config of vision_language_encoder/config.json (upstream names, class defaults).
struct GlmImageTextConfig {
  int64_t vocab_size = 168064;
  int64_t vision_vocab_size = 16512;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 13696;
  int64_t num_hidden_layers = 40;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  double rms_norm_eps = 1e-5;
  bool attention_bias = true;
  Activation hidden_act = Activation::Silu;  // the MLP gate's
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;
  std::vector<int64_t> mrope_section = {8, 12, 12};

  int64_t head_size() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  int64_t rotary_dim() const { return int64_t(double(head_size()) * partial_rotary_factor); }

  // Reads `text_config` when present (the pipeline component's layout), else `j` itself.
  static GlmImageTextConfig from_json(const nlohmann::json& j, const std::string& source);
};

// The top-level token ids of vision_language_encoder/config.json (GlmImageConfig) and the VQ
// codebook size: ids below it are image tokens, the ids the DiT's prior embedding accepts.
struct GlmImageTokenIds {
  int64_t image_token_id = 167855;        // <|image|>, a source image's placeholder
  int64_t image_start_token_id = 16384;   // <|dit_token_16384|>
  int64_t image_end_token_id = 16385;     // <|dit_token_16385|>, also the generation's EOS
  int64_t codebook_size = 16384;          // vq_config.num_embeddings

  static GlmImageTokenIds from_json(const nlohmann::json& root, const std::string& source);
};

std::map<std::string, std::vector<int64_t>> glm_image_text_parameter_shapes(const GlmImageTextConfig& config);

}  // namespace glmh
