#include "pipeline/model/glyph/t5_encoder.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/model/activation.h"

namespace glmh {

at::Tensor t5_relative_position_buckets(int64_t q_len, int64_t k_len, int64_t num_buckets, int64_t max_distance) {
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor relative = at::arange(k_len, i64).unsqueeze(0) - at::arange(q_len, i64).unsqueeze(1);  // key - query
  const int64_t half = num_buckets / 2;  // bidirectional: one half per direction
  at::Tensor bucket = (relative > 0).to(at::kLong) * half;
  const at::Tensor n = relative.abs();
  const int64_t max_exact = half / 2;
  // Distances from max_exact to max_distance share buckets logarithmically.
  at::Tensor large = max_exact + (at::log(n.to(at::kFloat) / double(max_exact)) /
                                  std::log(double(max_distance) / double(max_exact)) * double(half - max_exact))
                                     .to(at::kLong);
  large = at::clamp_max(large, half - 1);
  return bucket + at::where(n < max_exact, n, large);
}

T5Encoder T5Encoder::load(const ComponentCheckpoint& ckpt, const c10::Device& device, c10::ScalarType dtype) {
  T5Encoder m;
  m.config_ = T5EncoderConfig::from_json(ckpt.config(), ckpt.dir() + "/config.json");
  // Tied checkpoints may store the embedding only as encoder.embed_tokens.weight.
  m.params_ = load_parameters(ckpt, t5_encoder_parameter_shapes(m.config_), device, dtype,
                              {{"shared.weight", "encoder.embed_tokens.weight"}});
  return m;
}

T5Encoder T5Encoder::from_tensors(const T5EncoderConfig& config, const std::map<std::string, at::Tensor>& tensors) {
  T5Encoder m;
  m.config_ = config;
  m.params_ = take_parameters(t5_encoder_parameter_shapes(config), tensors, "T5 encoder");
  return m;
}

at::Tensor T5Encoder::rms_norm(const at::Tensor& x, const std::string& weight) const {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + config_.layer_norm_epsilon);
  return p(weight) * normed.to(p(weight).scalar_type());
}

at::Tensor T5Encoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  const auto& c = config_;
  const int64_t batch = input_ids.size(0), len = input_ids.size(1), heads = c.num_heads;
  at::Tensor h = at::embedding(p("shared.weight"), input_ids);
  const c10::ScalarType dtype = h.scalar_type();

  // Relative-position bias from block 0's table, plus the padding mask, shared by every layer.
  const at::Tensor buckets = t5_relative_position_buckets(len, len, c.relative_attention_num_buckets,
                                                          c.relative_attention_max_distance)
                                 .to(h.device());
  at::Tensor bias = at::embedding(p("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), buckets)
                        .permute({2, 0, 1})
                        .unsqueeze(0);  // [1, H, L, L]
  const double lowest = double(std::numeric_limits<float>::lowest());
  const at::Tensor padding = (1.0 - attention_mask.to(at::kFloat)).view({batch, 1, 1, len}) * lowest;
  bias = bias.to(at::kFloat) + padding.to(h.device());

  auto act = [&](const at::Tensor& x) { return apply_activation(c.activation, x); };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "encoder.block." + std::to_string(i) + ".";
    const std::string a = b + "layer.0.SelfAttention.";
    const at::Tensor x = rms_norm(h, b + "layer.0.layer_norm.weight");
    auto split = [&](const at::Tensor& t) { return t.view({batch, len, heads, c.d_kv}).transpose(1, 2); };
    const at::Tensor q = split(at::linear(x, p(a + "q.weight")));
    const at::Tensor k = split(at::linear(x, p(a + "k.weight")));
    const at::Tensor v = split(at::linear(x, p(a + "v.weight")));
    // No 1/sqrt(d_kv): T5 folds it into the initialisation.
    const at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).to(at::kFloat) + bias;
    const at::Tensor attn = at::matmul(at::softmax(scores, -1).to(dtype), v);
    h = h + at::linear(attn.transpose(1, 2).reshape({batch, len, heads * c.d_kv}), p(a + "o.weight"));

    const std::string f = b + "layer.1.DenseReluDense.";
    const at::Tensor y = rms_norm(h, b + "layer.1.layer_norm.weight");
    const at::Tensor inner = c.is_gated() ? act(at::linear(y, p(f + "wi_0.weight"))) * at::linear(y, p(f + "wi_1.weight"))
                                          : act(at::linear(y, p(f + "wi.weight")));
    h = h + at::linear(inner, p(f + "wo.weight"));
  }
  return rms_norm(h, "encoder.final_layer_norm.weight");
}

}  // namespace glmh
