// Tensor parallelism of the GLM-Image DiT (docs/tensor-parallel.md#dit): which weights are split
// how, and the split itself, done at load time from the full checkpoint.
//
//   column-parallel (output features, i.e. heads, split): attn1.to_q, to_k, to_v, ff.net.0.proj
//   row-parallel (input features split; all-reduce, then the bias): attn1.to_out.0, ff.net.2
//   replicated: everything else (AdaLN, embedders, projectors, prior embedding, norm_out, proj_out)
//
// QK LayerNorm is per head and has no weights, so it stays local.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace glmh {

enum class TpSplit { Replicated, Column, Row };

// How the parameter called `name` (a checkpoint tensor name) is split.
TpSplit dit_tp_split(const std::string& name);

// This TP rank's parameters: column-parallel weights and biases keep rows
// [rank * out / size, (rank + 1) * out / size), row-parallel weights keep those columns (their
// bias stays whole: it is added once, after the all-reduce). Throws std::invalid_argument when a
// split dimension does not divide by `size`.
std::map<std::string, at::Tensor> shard_dit_parameters_for_tp(const std::map<std::string, at::Tensor>& params,
                                                              int64_t rank, int64_t size);

}  // namespace glmh
