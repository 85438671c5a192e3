// text_encoder/config.json (transformers' T5Config names and defaults) and the parameter shapes
// it implies. Torch-free: fuzzed on its own (fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/activation_config.h"

namespace glmh {

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

std::map<std::string, std::vector<int64_t>> t5_encoder_parameter_shapes(const T5EncoderConfig& config);

}  // namespace glmh
