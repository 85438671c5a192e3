// The AR decode step's linear layers. A token is one row, so each layer is a matrix-vector product
// bound by reading its weight; on a GPU a GEMV kernel (cuda/decode_gemv.cu) reads bf16 weights
// closer to the HBM rate than cuBLAS did for n x 1 products, and fuses the feed-forward's
// up * silu(gate) (docs/performance.md#fused-kernels). Any other shape, dtype or device, and the
// reference: at::linear (and the activation).
#pragma once

#include <ATen/core/Tensor.h>


namespace glmh {

// at::linear(x, weight, bias) for x [..., k]; the GEMV where x holds one row.
at::Tensor decode_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// up * silu(gate) with [gate; up] = x gate_up_weight^T, gate_up_weight [2 F, k] -> [..., F] (the
// GLM decoder's MLP activation).
at::Tensor decode_silu_gated_up(const at::Tensor& x, const at::Tensor& gate_up_weight);
at::Tensor decode_silu_gated_up_reference(const at::Tensor& x, const at::Tensor& gate_up_weight);

}  // namespace glmh
