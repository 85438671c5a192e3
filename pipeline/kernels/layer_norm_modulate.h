// AdaLN's normalise-and-modulate: LayerNorm without affine over the last dimension, then
// x * (1 + scale) + shift with per-sample scale and shift. One pass on a GPU (a fused kernel
// writing straight into its slice of the joint text + image sequence, so no concatenation
// follows); the ATen composition elsewhere, and as the reference the kernel is tested against.
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

// x [B, S, D], scale and shift [B, D]; writes into out [B, S, D] (a view whose rows may be strided,
// e.g. a narrow of a larger sequence).
void layer_norm_modulate_into(const at::Tensor& out, const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                              double eps);
at::Tensor layer_norm_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double eps);

// The ATen composition (layer_norm, then the modulation, each step rounded to x's dtype).
at::Tensor layer_norm_modulate_reference(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                         double eps);

}  // namespace glmh
