// Tensor parallelism of the GLM-Image AR model (docs/tensor-parallel.md#ar-model, as SGLang serves
// it): which weights are split how, done at load time from the full checkpoint.
//
//   column-parallel (heads, KV heads, MLP columns split): self_attn.q_proj, k_proj, v_proj (with
//     their biases), mlp.gate_up_proj (the gate half and the up half each split, so each rank
//     keeps matching gate and up columns)
//   row-parallel (all-reduce before the sandwich RMSNorm that follows): self_attn.o_proj,
//     mlp.down_proj
//   vocabulary-parallel: embed_tokens (each rank looks up its rows, the rest are zero; all-reduce)
//     and lm_head (each rank's logits all-gathered, so every rank holds all of them and samples
//     the same token from the same uniforms)
//   replicated: the RMSNorms
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace glmh {

struct GlmImageTextConfig;

// This TP rank's parameters; std::invalid_argument when a split does not divide by `size`
// (heads, KV heads, intermediate size, either vocabulary).
std::map<std::string, at::Tensor> shard_ar_parameters_for_tp(const std::map<std::string, at::Tensor>& params,
                                                             const GlmImageTextConfig& config, int64_t rank, int64_t size);

}  // namespace glmh
