#include "pipeline/model/ar/glm_image_vision_config.h"

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {

namespace {

const std::string kVisual = "model.visual.";
const std::string kVq = "model.vqmodel.";

const nlohmann::json& section(const nlohmann::json& root, const char* key) {
  return root.contains(key) && root[key].is_object() ? root[key] : root;
}

}  // namespace

GlmImageVisionConfig GlmImageVisionConfig::from_json(const nlohmann::json& root, const std::string& source) {
  GlmImageVisionConfig c;
  const ConfigFields f(section(root, "vision_config"), source + " (vision_config)");
  // Upstream's attribute_map lets the generic names stand for depth and num_heads.
  f.positive_int("num_hidden_layers", c.depth, kMaxConfigLayers);
  f.positive_int("depth", c.depth, kMaxConfigLayers);
  f.positive_int("num_attention_heads", c.num_heads);
  f.positive_int("num_heads", c.num_heads);
  f.positive_int("hidden_size", c.hidden_size);
  f.positive_int("intermediate_size", c.intermediate_size);
  f.positive_int("in_channels", c.in_channels);
  f.positive_int("image_size", c.image_size);
  f.positive_int("patch_size", c.patch_size);
  f.positive_int("spatial_merge_size", c.spatial_merge_size);
  f.boolean("attention_bias", c.attention_bias);
  f.number("layer_norm_eps", c.layer_norm_eps);
  f.text("hidden_act", c.hidden_act);
  if (c.hidden_act != "gelu") f.fail("hidden_act '" + c.hidden_act + "' is not supported (gelu)");
  if (c.hidden_size % c.num_heads != 0)
    f.fail("hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_heads " + std::to_string(c.num_heads));
  // Upstream's position ids and its per-image VQ maps assume merge 1 (GLM-Image's value).
  if (c.spatial_merge_size != 1)
    f.fail("spatial_merge_size " + std::to_string(c.spatial_merge_size) + " is not supported (1)");
  if (c.position_side() < 1)
    f.fail("image_size " + std::to_string(c.image_size) + " is smaller than patch_size " + std::to_string(c.patch_size));
  return c;
}

GlmImageVQConfig GlmImageVQConfig::from_json(const nlohmann::json& root, const std::string& source) {
  GlmImageVQConfig c;
  const ConfigFields f(section(root, "vq_config"), source + " (vq_config)");
  f.positive_int("embed_dim", c.embed_dim);
  f.positive_int("num_embeddings", c.num_embeddings);
  f.positive_int("latent_channels", c.latent_channels);
  f.positive_int("in_channels", c.in_channels);
  return c;
}

std::map<std::string, std::vector<int64_t>> glm_image_vision_parameter_shapes(const GlmImageVisionConfig& v,
                                                                               const GlmImageVQConfig& q) {
  const int64_t h = v.hidden_size, side = v.position_side();
  std::map<std::string, std::vector<int64_t>> s;
  s[kVisual + "patch_embed.proj.weight"] = {h, v.in_channels, v.patch_size, v.patch_size};
  s[kVisual + "patch_embed.proj.bias"] = {h};
  s[kVisual + "embeddings.position_embedding.weight"] = {side * side, h};
  for (int64_t i = 0; i < v.depth; ++i) {
    const std::string b = kVisual + "blocks." + std::to_string(i) + ".";
    for (const char* norm : {"norm1", "norm2"}) {
      s[b + norm + ".weight"] = {h};
      s[b + norm + ".bias"] = {h};
    }
    s[b + "attn.qkv.weight"] = {3 * h, h};
    s[b + "attn.proj.weight"] = {h, h};
    if (v.attention_bias) {
      s[b + "attn.qkv.bias"] = {3 * h};
      s[b + "attn.proj.bias"] = {h};
    }
    s[b + "mlp.fc1.weight"] = {v.intermediate_size, h};
    s[b + "mlp.fc1.bias"] = {v.intermediate_size};
    s[b + "mlp.fc2.weight"] = {h, v.intermediate_size};
    s[b + "mlp.fc2.bias"] = {h};
  }
  s[kVq + "quant_conv.weight"] = {q.embed_dim, q.latent_channels, 1, 1};
  s[kVq + "quant_conv.bias"] = {q.embed_dim};
  s[kVq + "quantize.embedding.weight"] = {q.num_embeddings, q.embed_dim};
  return s;
}

}  // namespace glmh
