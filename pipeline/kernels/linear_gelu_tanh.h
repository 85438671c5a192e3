// A linear layer followed by GELU (tanh approximation), the DiT feed-forward's first half. On a
// GPU the activation runs in the matrix multiply's epilogue (cuBLASLt through
// at::_addmm_activation), saving a read and a write of the [tokens, 4 D] hidden state; elsewhere,
// and as the reference, linear then gelu.
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

// x [..., in], weight [out, in], bias [out] -> [..., out].
at::Tensor linear_gelu_tanh(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
at::Tensor linear_gelu_tanh_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace glmh
