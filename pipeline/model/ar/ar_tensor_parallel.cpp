#include "pipeline/model/ar/ar_tensor_parallel.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/parallel/tp_slice.h"

namespace glmh {

namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::map<std::string, at::Tensor> shard_ar_parameters_for_tp(const std::map<std::string, at::Tensor>& params,
                                                             const GlmImageTextConfig& config, int64_t rank, int64_t size) {
  if (config.num_attention_heads % size != 0 || config.num_key_value_heads % size != 0)
    throw std::invalid_argument("AR: " + std::to_string(config.num_attention_heads) + " heads and " +
                                std::to_string(config.num_key_value_heads) + " KV heads do not split over tp " +
                                std::to_string(size));
  if (size == 1) return params;
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : params) {
    if (contains(name, ".q_proj.") || contains(name, ".k_proj.") || contains(name, ".v_proj.") ||
        contains(name, "embed_tokens.") || name == "lm_head.weight") {
      out[name] = slice_for_tp(t, 0, rank, size, name);
    } else if (contains(name, ".o_proj.") || contains(name, ".down_proj.")) {
      out[name] = slice_for_tp(t, 1, rank, size, name);
    } else if (contains(name, ".gate_up_proj.")) {
      const auto halves = t.chunk(2, 0);  // [gate; up]
      out[name] = at::cat({slice_for_tp(halves[0], 0, rank, size, name), slice_for_tp(halves[1], 0, rank, size, name)}, 0);
    } else {
      out[name] = t;
    }
  }
  return out;
}

}  // namespace glmh
