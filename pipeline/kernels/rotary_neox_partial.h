// The AR decoder's rotary embedding: NeoX rotation (dim d pairs with d + rot / 2) of the first
// `rot` dims of each head, the rest passed through. One kernel on a GPU (five small launches per
// layer per token before); elsewhere, and as the reference, the ATen composition.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace glmh {

// x [B, H, S, hd] (any strides, unit last), cos / sin [B, 1, S, rot] in x's dtype with the rotation's
// sign folded into sin (-sin for the first half): x * cos + swap_halves(x) * sin. Returns a
// contiguous [B, H, S, hd].
at::Tensor rotary_neox_partial(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rot);
at::Tensor rotary_neox_partial_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                         int64_t rot);

// One decode token's rotary and KV cache write together (one kernel on a GPU instead of three):
// qkv [B, q_heads + 2 kv_heads, 1, hd] (any strides, unit last) holds q, k, v; k rotated and v are
// written to slot `slot` ([1] int64 on the device) of k_cache / v_cache [B, kv_heads, capacity, hd];
// returns q rotated, contiguous [B, q_heads, 1, hd].
at::Tensor rotary_qk_into_kv_cache(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin, int64_t rot,
                                   int64_t q_heads, const at::Tensor& k_cache, const at::Tensor& v_cache,
                                   const at::Tensor& slot);
at::Tensor rotary_qk_into_kv_cache_reference(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                                             int64_t rot, int64_t q_heads, const at::Tensor& k_cache,
                                             const at::Tensor& v_cache, const at::Tensor& slot);

}  // namespace glmh
