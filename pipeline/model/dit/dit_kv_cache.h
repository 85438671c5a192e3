// The DiT's reference-image KV cache for image-to-image (docs/model.md#reference-image-kv-cache;
// diffusers' GlmImageKVCache / GlmImageLayerKVCache).
//
// Each reference (condition) image goes once through the DiT in write mode; every block stores the
// keys and values of that pass's joint sequence, taken after the per-head QK LayerNorm and the
// image RoPE, just before attention. The pipeline's write pass has no glyph text, so these are the
// reference image's tokens, each rotated on its own grid from (0, 0). Several reference images are
// appended along the sequence in write order. In read mode (conditional pass) a block attends over
// [cached ; current] keys/values with queries for the current tokens only; skip mode (the
// unconditional pass) and off ignore the cache.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace glmh {

enum class DitKvCacheMode { kOff, kWrite, kRead, kSkip };

class DitKvCache {
 public:
  explicit DitKvCache(int64_t num_layers);

  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }
  // Cached sequence length (every layer holds the same); 0 when empty.
  int64_t cached_tokens() const;
  bool empty() const { return cached_tokens() == 0; }
  void clear();

  // Appends one write pass's key/value [B, S, heads, head_dim] of `layer` after what is cached.
  void append(int64_t layer, const at::Tensor& key, const at::Tensor& value);
  // The cached key/value of `layer`, [B_cache, cached_tokens, heads, head_dim] (undefined if empty).
  const at::Tensor& key(int64_t layer) const { return keys_.at(layer); }
  const at::Tensor& value(int64_t layer) const { return values_.at(layer); }

  // [cached ; current] along the sequence, the cache broadcast to the current batch: a cache of
  // batch 1 serves every sample, a cache of batch b serves each of its samples B / b times in a
  // row (upstream's num_images_per_prompt). Metadata-only checks: no host synchronisation.
  std::pair<at::Tensor, at::Tensor> prepend_to(int64_t layer, const at::Tensor& key, const at::Tensor& value) const;

 private:
  void check_layer(int64_t layer) const;

  std::vector<at::Tensor> keys_, values_;
};

// The one place where a DiT block's attention meets the cache: returns the keys and values the
// queries of this pass attend over ([B, S, heads, head_dim] each, the sequence in dim 1).
//   kWrite: stores `key`/`value` in `cache` and returns them unchanged (the pass's output is what
//           it would be without a cache);
//   kRead:  returns cache->prepend_to(layer, key, value);
//   kSkip, kOff: returns them unchanged.
// Throws std::invalid_argument when `cache` is null in write or read mode.
std::pair<at::Tensor, at::Tensor> keys_values_to_attend(DitKvCache* cache, DitKvCacheMode mode, int64_t layer,
                                                        const at::Tensor& key, const at::Tensor& value);

// Checked once per forward, before any work: a cache in write/read mode, with the model's layer count.
void check_kv_cache_use(const DitKvCache* cache, DitKvCacheMode mode, int64_t model_layers);

const char* to_string(DitKvCacheMode mode);

}  // namespace glmh
