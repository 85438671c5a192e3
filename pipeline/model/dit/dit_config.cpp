#include "pipeline/model/dit/dit_config.h"

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {


GlmImageDiTConfig GlmImageDiTConfig::from_json(const nlohmann::json& j, const std::string& source) {
  GlmImageDiTConfig c;
  const ConfigFields f(j, source);
  f.positive_int("patch_size", c.patch_size);
  f.positive_int("in_channels", c.in_channels);
  f.positive_int("out_channels", c.out_channels);
  f.positive_int("num_layers", c.num_layers, kMaxConfigLayers);
  f.positive_int("attention_head_dim", c.attention_head_dim);
  f.positive_int("num_attention_heads", c.num_attention_heads);
  f.positive_int("text_embed_dim", c.text_embed_dim);
  f.positive_int("time_embed_dim", c.time_embed_dim);
  f.positive_int("condition_dim", c.condition_dim);
  f.positive_int("prior_vq_quantizer_codebook_size", c.prior_vq_quantizer_codebook_size);
  if (c.attention_head_dim % 4 != 0)
    f.fail("attention_head_dim " + std::to_string(c.attention_head_dim) +
           " must be a multiple of 4 (2-D RoPE splits it into row and column halves)");
  if (c.time_embed_dim % 2 != 0 || c.condition_dim % 2 != 0)
    f.fail("time_embed_dim and condition_dim must be even (sin/cos halves)");
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

std::map<std::string, std::vector<int64_t>> dit_parameter_shapes(const GlmImageDiTConfig& c) {
  const int64_t d = c.inner_dim(), t = c.time_embed_dim;
  std::map<std::string, std::vector<int64_t>> s;
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    s[name + ".weight"] = {out, in};
    s[name + ".bias"] = {out};
  };
  linear("image_projector.proj", d, c.in_channels * c.patch_size * c.patch_size);
  linear("glyph_projector.net.0.proj", d, c.text_embed_dim);
  linear("glyph_projector.net.2", d, d);
  s["prior_token_embedding.weight"] = {c.prior_vq_quantizer_codebook_size, d};
  linear("prior_projector.net.0.proj", d, d);
  linear("prior_projector.net.2", d, d);
  linear("time_condition_embed.timestep_embedder.linear_1", t, t);
  linear("time_condition_embed.timestep_embedder.linear_2", t, t);
  linear("time_condition_embed.condition_embedder.linear_1", t, 4 * c.condition_dim);
  linear("time_condition_embed.condition_embedder.linear_2", t, t);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "transformer_blocks." + std::to_string(i) + ".";
    linear(b + "norm1.linear", 12 * d, t);
    for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) linear(b + "attn1." + proj, d, d);
    linear(b + "ff.net.0.proj", 4 * d, d);
    linear(b + "ff.net.2", d, 4 * d);
  }
  linear("norm_out.linear", 2 * d, t);
  linear("proj_out", c.patch_size * c.patch_size * c.out_channels, d);
  return s;
}

}  // namespace glmh
