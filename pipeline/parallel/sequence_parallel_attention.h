// Joint attention of the GLM-Image DiT under sequence parallelism: USP = Ulysses x Ring
// (docs/sequence-parallel.md#attention), with the replicated glyph prefix.
//
// Each SP rank holds the replicated prefix (glyph text tokens; for image to image also the
// reference KV cache, which is in the keys only) and its band of image tokens. Ulysses: one
// all-to-all turns [B, n, h, D] (all heads, my tokens) into [B, U n, h/U, D] (my heads, the ring
// chunk's tokens); the prefix is sliced to the same heads locally. Ring: every rank attends its
// queries (prefix and chunk) to the prefix keys once and to every ring chunk's keys as they travel
// around the ring, merging the partial results by their log-sum-exp. Then one inverse all-to-all
// brings back the image output of my tokens and the prefix output (identical on the ring ranks)
// of every head chunk. Buffers are written once in the layout the next step reads
// (docs/sequence-parallel.md#ulysses).
//
// Padding tokens (SpShardPlan) are hidden as keys, so the result equals attention over the whole
// unpadded sequence on one rank.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace glmh {

class Communicator;

struct SequenceParallelAttention {
  Communicator* ulysses = nullptr;  // size U (1: no all-to-all)
  Communicator* ring = nullptr;     // size R (1: no ring)
  int64_t image_tokens = 0;         // real image tokens of the whole sequence (no padding)
  int64_t tokens_per_rank = 0;      // image tokens each SP rank holds (padding included)
  // Ulysses without a ring: the heads of a rank split into this many groups, each exchanged and
  // attended on its own so that communication overlaps attention (1: none). Used when it divides
  // the heads per rank.
  int64_t pipeline_groups = 2;
  // Fault `ring-prefix-no-rotate` (upstream's silent miscompute): the prefix K/V never travel with
  // the ring chunks, so every ring step re-attends the local prefix: it is counted R times.
  bool fault_ring_prefix_no_rotate = false;
  // Fault `ulysses-fp16-wire`: the all-to-alls carry fp16 (a silent precision loss).
  bool fault_fp16_wire = false;
  // Fault `sp-padding-as-keys`: the padding tokens of the last band are not hidden as keys.
  bool fault_padding_as_keys = false;
  // Fault `sp-qkv-fp16-staging`: q, k, v pass through fp16 buffers first (as a half-precision-only
  // attention kernel would need); the collectives still carry the run's dtype.
  bool fault_fp16_staging = false;

  // q [B, Lt + n, h, D]: the Lt replicated prefix queries, then this rank's n image tokens.
  // k, v [B, P + n, h, D]: P >= Lt replicated prefix keys (reference cache, then text), then the
  // same n image tokens. Returns [B, Lt + n, h, D]. Collective over the Ulysses and Ring groups.
  at::Tensor operator()(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t text_len) const;
};

}  // namespace glmh
