// The DiT's query / key preparation: LayerNorm (no affine) of every head vector, then split-half
// rotary (docs/model.md#dit) on the image tokens, which follow `text_len` text tokens. One pass
// on a GPU (a fused kernel reading the projection's output in place); the ATen composition
// elsewhere, and as the reference the kernel is tested against.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace glmh {

// x [B, S, H, Dh] (rows may be strided, e.g. a slice of a fused projection), cos / sin
// [S - text_len, Dh / 2]. Returns a contiguous [B, S, H, Dh].
at::Tensor head_norm_rotary(const at::Tensor& x, int64_t text_len, const at::Tensor& cos, const at::Tensor& sin,
                            double eps);
at::Tensor head_norm_rotary_reference(const at::Tensor& x, int64_t text_len, const at::Tensor& cos,
                                      const at::Tensor& sin, double eps);

// Split-half (NeoX) rotary alone: x [B, S, H, D] rotated by cos / sin [S, D / 2] (dim d pairs with
// d + D / 2); computed in fp32, as diffusers does, and returned in x's dtype.
at::Tensor apply_rotary_split_half(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace glmh
