#include "dit_config.h"

#include "pipeline/checkpoint/safetensors.h"

namespace glmh {

namespace {

void read_int(const nlohmann::json& j, const char* key, int64_t& out, const std::string& source) {
  if (!j.contains(key)) return;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
    throw CheckpointError("'" + source + "': field '" + key + "' must be a positive integer, got " + j[key].dump());
  out = j[key].get<int64_t>();
}

}  // namespace

GlmImageDiTConfig GlmImageDiTConfig::from_json(const nlohmann::json& j, const std::string& source) {
  GlmImageDiTConfig c;
  read_int(j, "patch_size", c.patch_size, source);
  read_int(j, "in_channels", c.in_channels, source);
  read_int(j, "out_channels", c.out_channels, source);
  read_int(j, "num_layers", c.num_layers, source);
  read_int(j, "attention_head_dim", c.attention_head_dim, source);
  read_int(j, "num_attention_heads", c.num_attention_heads, source);
  read_int(j, "text_embed_dim", c.text_embed_dim, source);
  read_int(j, "time_embed_dim", c.time_embed_dim, source);
  read_int(j, "condition_dim", c.condition_dim, source);
  read_int(j, "prior_vq_quantizer_codebook_size", c.prior_vq_quantizer_codebook_size, source);
  if (c.attention_head_dim % 4 != 0)
    throw CheckpointError("'" + source + "': attention_head_dim " + std::to_string(c.attention_head_dim) +
                          " must be a multiple of 4 (2-D RoPE splits it into row and column halves)");
  if (c.time_embed_dim % 2 != 0 || c.condition_dim % 2 != 0)
    throw CheckpointError("'" + source + "': time_embed_dim and condition_dim must be even (sin/cos halves)");
  return c;
}

nlohmann::json GlmImageDiTConfig::to_json() const {
  return {{"_class_name", "GlmImageTransformer2DModel"},
          {"patch_size", patch_size},
          {"in_channels", in_channels},
          {"out_channels", out_channels},
          {"num_layers", num_layers},
          {"attention_head_dim", attention_head_dim},
          {"num_attention_heads", num_attention_heads},
          {"text_embed_dim", text_embed_dim},
          {"time_embed_dim", time_embed_dim},
          {"condition_dim", condition_dim},
          {"prior_vq_quantizer_codebook_size", prior_vq_quantizer_codebook_size}};
}

}  // namespace glmh
