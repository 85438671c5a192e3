// GlmImageTransformer2DModel (diffusers) in libtorch: docs/model.md#dit.
//
// Single-stream weights with dual modulation: the glyph (text) tokens and the image tokens go
// through the same attention and feed-forward weights, each with its own AdaLN shift/scale/gate.
// Joint attention over [text ; image] with per-head QK LayerNorm and 2-D RoPE on image tokens
// only. Output: the flow-matching velocity [B, C, H', W'].
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/model/dit/dit_block_cache.h"
#include "pipeline/model/dit/dit_config.h"
#include "pipeline/model/dit/dit_kv_cache.h"

namespace glmh {

class ComponentCheckpoint;
class Communicator;
struct SequenceParallelAttention;

// How one DiT forward is parallelised on this rank. With neither, the forward is the single-rank one.
struct DitParallelism {
  // Row-parallel layers all-reduce over it; the model must come from shard_for_tp with its size.
  Communicator* tp = nullptr;
  // Joint attention over the SP group; the inputs are then this rank's band (latents, prior ids,
  // rotary rows, see SpShardPlan). Null: local attention over the whole sequence.
  const SequenceParallelAttention* sp = nullptr;
  // Fault `tp-allreduce-fp16`: the row-parallel all-reduce carries fp16.
  bool fault_fp16_all_reduce = false;
};

struct DiTInputs {
  at::Tensor latents;           // [B, in_channels, H', W']
  at::Tensor glyph_embeds;      // [B, Lg, text_embed_dim]
  at::Tensor prior_token_id;    // [B, N] int64, N = (H'/p)(W'/p)
  at::Tensor prior_token_drop;  // [B, N] or [B] bool: true zeroes that prior embedding
  at::Tensor timestep;          // [B] float (the pipeline passes the unshifted t - 1)
  at::Tensor target_size;       // [B, 2] (height, width) in pixels
  at::Tensor crop_coords;       // [B, 2] (top, left)
  // Optional (cos, sin), each [N, head_dim / 2]; computed from the latent grid when absent.
  at::Tensor rotary_cos, rotary_sin;
  // Reference-image KV cache (image-to-image, docs/model.md#reference-image-kv-cache): write on
  // each reference image's pass, read on the conditional pass, skip on the unconditional one. Not
  // owned.
  DitKvCache* kv_cache = nullptr;
  DitKvCacheMode kv_cache_mode = DitKvCacheMode::kOff;
  const DitParallelism* parallel = nullptr;  // not owned; null: single rank
  DitBlockCache* block_cache = nullptr;       // not owned; null: every block runs every call
};

class GlmImageDiT {
 public:
  // Loads every parameter from `checkpoint` (shapes checked against the config), converted to
  // `dtype` on `device`.
  static GlmImageDiT load(const ComponentCheckpoint& checkpoint, const c10::Device& device, c10::ScalarType dtype);
  // From tensors named as in the checkpoint (every one of dit_parameter_shapes, shapes checked).
  static GlmImageDiT from_tensors(const GlmImageDiTConfig& config, const std::map<std::string, at::Tensor>& tensors);

  // This TP rank's shard (heads, feed-forward columns; see dit_tensor_parallel.h).
  GlmImageDiT shard_for_tp(int64_t rank, int64_t size) const;
  int64_t tp_size() const { return tp_size_; }
  // The same model cut to its first `blocks` transformer blocks (weights shared, not copied):
  // what a benchmark of one block runs.
  GlmImageDiT first_blocks(int64_t blocks) const;

  const GlmImageDiTConfig& config() const { return config_; }
  at::Tensor forward(const DiTInputs& inputs) const;

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }
  at::Tensor linear(const at::Tensor& x, const std::string& prefix) const;
  // A row-parallel layer: the partial product all-reduced over the TP group, then the bias.
  at::Tensor row_parallel_linear(const at::Tensor& x, const std::string& prefix, const DitParallelism* parallel) const;
  // One transformer block; updates the image and text streams in place.
  void block(int64_t index, at::Tensor& image, at::Tensor& text, const at::Tensor& temb,
             const at::Tensor& cos, const at::Tensor& sin, const DiTInputs& in) const;
  at::Tensor time_condition_embedding(const DiTInputs& in, c10::ScalarType dtype) const;

  GlmImageDiTConfig config_;
  std::map<std::string, at::Tensor> params_;
  int64_t tp_size_ = 1;
};

// Sinusoidal embedding as diffusers' Timesteps(flip_sin_to_cos=True, shift 0): [N] -> [N, dim],
// cos half first, in fp32.
at::Tensor sinusoidal_embedding(const at::Tensor& values, int64_t dim);

}  // namespace glmh
