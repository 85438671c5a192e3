#include "pipeline/model/glyph/t5_encoder_config.h"

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {

T5EncoderConfig T5EncoderConfig::from_json(const nlohmann::json& j, const std::string& source) {
  T5EncoderConfig c;
  const ConfigFields f(j, source);
  f.positive_int("vocab_size", c.vocab_size);
  f.positive_int("d_model", c.d_model);
  f.positive_int("d_kv", c.d_kv);
  f.positive_int("d_ff", c.d_ff);
  f.positive_int("num_layers", c.num_layers, kMaxConfigLayers);
  f.positive_int("num_heads", c.num_heads);
  f.positive_int("relative_attention_num_buckets", c.relative_attention_num_buckets);
  f.positive_int("relative_attention_max_distance", c.relative_attention_max_distance);
  f.number("layer_norm_epsilon", c.layer_norm_epsilon);
  f.text("feed_forward_proj", c.feed_forward_proj);
  const std::string act = c.is_gated() ? c.feed_forward_proj.substr(6) : c.feed_forward_proj;
  c.activation = parse_activation(f, "feed_forward_proj", c.feed_forward_proj == "gated-gelu" ? "gelu_new" : act);
  return c;
}

std::map<std::string, std::vector<int64_t>> t5_encoder_parameter_shapes(const T5EncoderConfig& c) {
  const int64_t inner = c.num_heads * c.d_kv;
  std::map<std::string, std::vector<int64_t>> s;
  s["shared.weight"] = {c.vocab_size, c.d_model};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "encoder.block." + std::to_string(i) + ".";
    for (const char* m : {"q", "k", "v"}) s[b + "layer.0.SelfAttention." + m + ".weight"] = {inner, c.d_model};
    s[b + "layer.0.SelfAttention.o.weight"] = {c.d_model, inner};
    if (i == 0) s[b + "layer.0.SelfAttention.relative_attention_bias.weight"] = {c.relative_attention_num_buckets, c.num_heads};
    s[b + "layer.0.layer_norm.weight"] = {c.d_model};
    if (c.is_gated()) {
      s[b + "layer.1.DenseReluDense.wi_0.weight"] = {c.d_ff, c.d_model};
      s[b + "layer.1.DenseReluDense.wi_1.weight"] = {c.d_ff, c.d_model};
    } else {
      s[b + "layer.1.DenseReluDense.wi.weight"] = {c.d_ff, c.d_model};
    }
    s[b + "layer.1.DenseReluDense.wo.weight"] = {c.d_model, c.d_ff};
    s[b + "layer.1.layer_norm.weight"] = {c.d_model};
  }
  s["encoder.final_layer_norm.weight"] = {c.d_model};
  return s;
}

}  // namespace glmh
