// How the DiT's image tokens are split over a sequence-parallel group
// (docs/sequence-parallel.md#bands).
//
// The latents [B, C, H', W'] are cut along H' into contiguous bands, one per SP rank in SP-rank
// order. Image tokens are the row-major patches of the Hp x Wp grid (Hp = H'/p), so a band of
// whole token rows is a contiguous slice of tokens. When Hp does not divide by sp, the latents
// are zero-padded at the bottom to the next multiple of sp token rows; the padding tokens are
// hidden from attention as keys (SequenceParallelAttention) and dropped after the gather, so the
// result equals the unpadded single-rank run.
//
// Latents, prior ids and the rotary table are all cut in token rows, so the three cover the same
// tokens on every rank (the rotary_sharding check: docs/checks.md#rotary_sharding).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace glmh {

class Communicator;

struct SpShardPlan {
  int64_t sp = 1, rank = 0;
  int64_t patch = 2;
  int64_t grid_h = 0, grid_w = 0;  // token rows and columns of the whole image (Hp, Wp)
  int64_t padded_grid_h = 0;       // Hp rounded up to a multiple of sp
  int64_t band_rows = 0;           // token rows per rank

  static SpShardPlan create(int64_t latent_h, int64_t latent_w, int64_t patch, int64_t sp, int64_t rank);

  int64_t first_row() const { return rank * band_rows; }
  int64_t tokens() const { return grid_h * grid_w; }               // real image tokens
  int64_t tokens_per_rank() const { return band_rows * grid_w; }   // including padding
  int64_t padded_tokens() const { return padded_grid_h * grid_w; }
  int64_t first_token() const { return first_row() * grid_w; }
  bool padded() const { return padded_grid_h != grid_h; }
  std::string describe() const;  // "rank 1 of 3: token rows 3..5 of 5 (+1 padding row)"
};

// What one SP rank feeds the DiT: its rotary rows, latent band and prior ids.
struct SpShards {
  at::Tensor cos, sin;      // [tokens_per_rank, D/2]
  at::Tensor latents_band;  // [B, C, band_rows * p, W']
  at::Tensor prior_ids;     // [B, tokens_per_rank]
};

// SGLang's shard_rotary_emb_for_sp on dim 0 of `table`: when its length does not divide by sp,
// repeat the last row up to a multiple, then return rows [rank * n / sp, (rank + 1) * n / sp).
// glmh calls it on the rotary table viewed as token rows ([Hp, Wp, D/2]), for cos and for sin.
at::Tensor shard_rotary_emb_for_sp(const at::Tensor& table, int64_t sp, int64_t rank);

// The rotary table rows ([Hp*Wp, D/2]) of this rank's tokens, padding rows repeating the last.
at::Tensor shard_rotary_for_plan(const at::Tensor& table, const SpShardPlan& plan);

// This rank's band of latents [B, C, band_rows * p, W'] (zero rows where it runs past the image).
at::Tensor shard_latents_for_sp(const at::Tensor& latents, const SpShardPlan& plan);

// This rank's slice of per-token ids [B, N] (0 for padding tokens).
at::Tensor shard_tokens_for_sp(const at::Tensor& ids, const SpShardPlan& plan);

// Inverse of shard_latents_for_sp over the SP group: every rank's band gathered in rank order,
// padding dropped: [B, C, H', W'] on every rank.
at::Tensor gather_latents_from_sp(const at::Tensor& band, const SpShardPlan& plan, Communicator& sp_group);

}  // namespace glmh
