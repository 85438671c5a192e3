// The glyph encoder: transformers' T5EncoderModel (ByT5-style) in libtorch
// (docs/model.md#glyph-encoder).
//
// Pre-RMSNorm blocks (no mean subtraction, no bias); self-attention WITHOUT 1/sqrt(d) scaling,
// plus a bucketed bidirectional relative-position bias whose table lives in block 0 and serves
// every layer; feed-forward wo(act(wi_0 x) * wi_1 x) when gated ("gated-gelu" uses the tanh GELU),
// wo(act(wi x)) otherwise; a final RMSNorm.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/glyph/t5_encoder_config.h"

namespace glmh {

class ComponentCheckpoint;

// T5's bucket of each (query, key) relative position, bidirectional: [q_len, k_len] int64.
at::Tensor t5_relative_position_buckets(int64_t q_len, int64_t k_len, int64_t num_buckets, int64_t max_distance);

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
