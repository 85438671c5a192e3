// Attention of one new token's queries over a KV cache buffer of which only the first
// `valid_keys` slots hold tokens (the count on the device, so that a replayed CUDA graph sees it
// grow). On a GPU a split-key kernel reads only the valid slots, spread over ~capacity / 64
// blocks per KV head: a fused attention over the whole masked buffer ran on one block per KV head
// and cost ~116 µs per layer at a 2600-slot cache (docs/performance.md#fused-kernels). Elsewhere,
// and as the reference, the masked scaled-dot-product attention over the whole buffer.
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

// q [B, KVH, G, Dh]: the G query heads that share each KV head; keys / values [B, KVH, capacity,
// Dh]; valid_keys int64 [1] on q's device. Returns [B, KVH, G, Dh]. Scale 1 / sqrt(Dh).
at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                            const at::Tensor& valid_keys);
at::Tensor decode_attention_reference(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                                      const at::Tensor& valid_keys);

}  // namespace glmh
