// The DiT's 2-D rotary embedding (GlmImageRotaryPosEmbed) in SGLang's table form.
//
// Tokens are the row-major patches of an Hp x Wp grid. For head_dim D the table has D/2 angles
// per token: row * inv_freq (D/4 of them), then col * inv_freq (D/4), inv_freq[j] =
// theta^(-2j / (D/2)). diffusers duplicates the table to D columns and rotates split-half
// (NeoX): dims d < D/2 pair with d + D/2. get_freqs_cis returns (cos, sin), each [Hp*Wp, D/2],
// fp32 — the table that SP shards row-wise (shard_rotary_emb_for_sp).
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

namespace glmh {

std::pair<at::Tensor, at::Tensor> get_freqs_cis(int64_t grid_height, int64_t grid_width,
                                                int64_t head_dim, double theta = 10000.0);

// The rotation itself is apply_rotary_split_half (pipeline/kernels/head_norm_rotary.h), fused there
// with the QK LayerNorm that precedes it.

}  // namespace glmh
