#include "pipeline/model/ar/glm_image_text_config.h"

#include <numeric>

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {

namespace {
const std::string kPrefix = "model.language_model.";
}

GlmImageTextConfig GlmImageTextConfig::from_json(const nlohmann::json& root, const std::string& source) {
  const nlohmann::json& j = root.contains("text_config") ? root["text_config"] : root;
  GlmImageTextConfig c;
  const ConfigFields f(j, source);
  f.positive_int("vocab_size", c.vocab_size);
  f.positive_int("vision_vocab_size", c.vision_vocab_size);
  f.positive_int("hidden_size", c.hidden_size);
  f.positive_int("intermediate_size", c.intermediate_size);
  f.positive_int("num_hidden_layers", c.num_hidden_layers, kMaxConfigLayers);
  f.positive_int("num_attention_heads", c.num_attention_heads);
  f.positive_int("num_key_value_heads", c.num_key_value_heads);
  f.positive_int("head_dim", c.head_dim);
  f.number("rms_norm_eps", c.rms_norm_eps);
  f.boolean("attention_bias", c.attention_bias);
  c.hidden_act = activation_field(f, "hidden_act", Activation::Silu);
  bool tied = false;
  f.boolean("tie_word_embeddings", tied);
  if (tied) f.fail("field 'tie_word_embeddings' = true is not supported (false: the LM head over the vision vocabulary has its own weights)");
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const ConfigFields rope(j["rope_parameters"], source + " (rope_parameters)");
    rope.number("rope_theta", c.rope_theta);
    rope.number("partial_rotary_factor", c.partial_rotary_factor);
    std::string type = "default";
    rope.text("rope_type", type);
    if (type != "default") rope.fail("rope_type '" + type + "' is not supported (default)");
    rope.integer_list("mrope_section", c.mrope_section, 0);
  }
  if (!(c.partial_rotary_factor > 0.0 && c.partial_rotary_factor <= 1.0))
    f.fail("field 'partial_rotary_factor' must be in (0, 1], got " + std::to_string(c.partial_rotary_factor));
  if (!(c.rope_theta > 0.0)) f.fail("field 'rope_theta' must be positive, got " + std::to_string(c.rope_theta));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail("num_attention_heads must be a multiple of num_key_value_heads");
  const int64_t sections = std::accumulate(c.mrope_section.begin(), c.mrope_section.end(), int64_t(0));
  if (c.mrope_section.size() != 3 || sections != c.rotary_dim() / 2)
    f.fail("mrope_section must have 3 entries summing to rotary_dim / 2 = " + std::to_string(c.rotary_dim() / 2));
  return c;
}

GlmImageTokenIds GlmImageTokenIds::from_json(const nlohmann::json& root, const std::string& source) {
  GlmImageTokenIds ids;
  const ConfigFields f(root, source);
  f.positive_int("image_token_id", ids.image_token_id);
  f.positive_int("image_start_token_id", ids.image_start_token_id);
  f.positive_int("image_end_token_id", ids.image_end_token_id);
  if (root.contains("vq_config") && root["vq_config"].is_object())
    ConfigFields(root["vq_config"], source + " (vq_config)").positive_int("num_embeddings", ids.codebook_size);
  return ids;
}

std::map<std::string, std::vector<int64_t>> glm_image_text_parameter_shapes(const GlmImageTextConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_size(), kv = c.num_key_value_heads * c.head_size();
  std::map<std::string, std::vector<int64_t>> s;
  s[kPrefix + "embed_tokens.weight"] = {c.vocab_size, h};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = kPrefix + "layers." + std::to_string(i) + ".";
    for (const char* norm : {"input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm", "post_mlp_layernorm"})
      s[l + norm + ".weight"] = {h};
    s[l + "self_attn.q_proj.weight"] = {q, h};
    s[l + "self_attn.k_proj.weight"] = {kv, h};
    s[l + "self_attn.v_proj.weight"] = {kv, h};
    if (c.attention_bias) {
      s[l + "self_attn.q_proj.bias"] = {q};
      s[l + "self_attn.k_proj.bias"] = {kv};
      s[l + "self_attn.v_proj.bias"] = {kv};
    }
    s[l + "self_attn.o_proj.weight"] = {h, q};
    s[l + "mlp.gate_up_proj.weight"] = {2 * c.intermediate_size, h};
    s[l + "mlp.down_proj.weight"] = {h, c.intermediate_size};
  }
  s[kPrefix + "norm.weight"] = {h};
  s["lm_head.weight"] = {c.vision_vocab_size, h};
  return s;
}

}  // namespace glmh
