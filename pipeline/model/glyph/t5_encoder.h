// The glyph encoder: transformers' T5EncoderModel (ByT5-style) in libtorch
// (docs/model.md#glyph-encoder).
//
// Pre-RMSNorm blocks (no mean subtraction, no bias); self-attention WITHOUT 1/sqrt(d) scaling,
// plus a bucketed bidirectional relative-position bias whose table lives in block 0 and serves
// every layer; feed-forward wo(act(wi_0 x) * wi_1 x) when gated ("gated-gelu" uses the tanh GELU),
// wo(act(wi x)) otherwise; a final RMSNorm.
#pragma once

#include "pipeline/model/activation.h"
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

class ComponentCheckpoint;

struct T5EncoderConfig {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";  // "relu", "gelu", "gated-gelu", "gated-relu", ...

  bool is_gated() const { return feed_forward_proj.rfind("gated-", 0) == 0; }
  // feed_forward_proj's function; transformers maps "gated-gelu" to the tanh GELU ("gelu_new")
  // for backward compatibility.
  Activation activation = Activation::Relu;

  static T5EncoderConfig from_json(const nlohmann::json& j, const std::string& source);
};

// T5's bucket of each (query, key) relative position, bidirectional: [q_len, k_len] int64.
at::Tensor t5_relative_position_buckets(int64_t q_len, int64_t k_len, int64_t num_buckets, int64_t max_distance);

std::map<std::string, std::vector<int64_t>> t5_encoder_parameter_shapes(const T5EncoderConfig& config);

class T5Encoder {
 public:
  static T5Encoder load(const ComponentCheckpoint& checkpoint, const c10::Device& device, c10::ScalarType dtype);
  // From tensors named as in the checkpoint (every one of t5_encoder_parameter_shapes).
  static T5Encoder from_tensors(const T5EncoderConfig& config, const std::map<std::string, at::Tensor>& tensors);
  const T5EncoderConfig& config() const { return config_; }
  c10::Device device() const { return p("shared.weight").device(); }
  // input_ids [B, L] int64, attention_mask [B, L] (1 valid, 0 padding) -> [B, L, d_model].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }
  at::Tensor rms_norm(const at::Tensor& x, const std::string& weight) const;

  T5EncoderConfig config_;
  std::map<std::string, at::Tensor> params_;
};

}  // namespace glmh
