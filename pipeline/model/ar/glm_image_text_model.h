// The AR prior generator's decoder (transformers GlmImageTextModel + the vision-vocabulary LM
// head of GlmImageForConditionalGeneration), docs/model.md#decoder-layer, #ar-rotary.
//
// GLM-4 "sandwich" layers (RMSNorm before and after attention and MLP); GQA with q/k/v bias and
// no o bias; fused gate_up SiLU MLP; partial NeoX rotary on the first head_dim * factor dims,
// whose frequencies are taken from the t, h or w position row by mrope_section.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/ar/glm_image_text_config.h"

namespace glmh {

class ComponentCheckpoint;

// cos/sin [B, S, rotary_dim] for 3-D position ids [3, B, S] (t, h, w), fp32.
std::pair<at::Tensor, at::Tensor> mrope_cos_sin(const GlmImageTextConfig& config, const at::Tensor& position_ids);

class ArKvCache;
class Communicator;

class GlmImageTextModel {
 public:
  static GlmImageTextModel load(const ComponentCheckpoint& checkpoint, const c10::Device& device, c10::ScalarType dtype);
  // This rank's tensor-parallel shard over `tp` (see ar_tensor_parallel.h); it keeps `tp` for its
  // collectives, so every forward is collective over the group. Its config() holds the local
  // head, KV-head and MLP sizes (the vocabularies stay whole: lookups and logits are completed by
  // the group).
  GlmImageTextModel shard_for_tp(Communicator& tp) const;
  int64_t tp_size() const { return tp_size_; }
  // Whether a decode step can be captured in a CUDA graph: a single rank, or a TP group whose
  // collectives capture (NCCL).
  bool decode_step_captures() const;

  const GlmImageTextConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return p("lm_head.weight").scalar_type(); }
  // input_ids [B, S], position_ids [3, B, S] -> logits over the vision vocabulary [B, S, V], causal.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& position_ids) const;
  // The final-norm hidden states [B, S, hidden]. Without a cache, causal over the S tokens. With
  // one, the S tokens follow the cached ones and are appended to it: a prefill into an empty
  // cache, or a single decode token.
  // `decode_slot` (int64 [1] on the device): a decode token's cache slot given on the device instead
  // of by the cache's host-side length, so that the step can be captured in a CUDA graph.
  at::Tensor hidden_states(const at::Tensor& input_ids, const at::Tensor& position_ids, ArKvCache* cache = nullptr,
                           const at::Tensor& decode_slot = {}) const;
  // hidden [.., hidden] -> logits over the vision vocabulary.
  at::Tensor logits(const at::Tensor& hidden) const;

 private:
  // One decoder layer's weights, looked up once instead of by name in every step. q, k and v are
  // one product: their weights (and biases) concatenated along the output rows, the parameter
  // table's q/k/v entries being views into them.
  struct LayerWeights {
    at::Tensor input_norm, qkv_weight, qkv_bias, o_proj, post_self_attn_norm, post_attention_norm, gate_up, down,
        post_mlp_norm;
  };
  void resolve_layers();
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor embed(const at::Tensor& input_ids) const;
  // A row-parallel product completed over the TP group (no bias: GLM's o_proj and down_proj have none).
  at::Tensor row_parallel(const at::Tensor& x, const at::Tensor& weight) const;

  GlmImageTextConfig config_;
  std::map<std::string, at::Tensor> params_;
  std::vector<LayerWeights> layers_;
  Communicator* tp_ = nullptr;
  int64_t tp_rank_ = 0, tp_size_ = 1;
};

}  // namespace glmh
