// How a block cache plugs into the DiT forward (docs/caching.md#block-split): the DiT runs the
// first Fn blocks, asks the cache whether the middle blocks may be skipped this call, and either
// adds the cached middle-block residuals to both streams or runs the middle blocks and hands their
// residuals to the cache; then it runs the last Bn blocks. The DiT knows nothing else of caching:
// pipeline/cache/ implements this interface.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace glmh {

class DitBlockCache {
 public:
  virtual ~DitBlockCache() = default;
  virtual int64_t first_blocks() const = 0;  // Fn >= 1
  virtual int64_t last_blocks() const = 0;   // Bn >= 0
  // `fn_residual`: the image stream after the first blocks minus the stream entering them.
  virtual bool serve_from_cache(const at::Tensor& fn_residual) = 0;
  // A hit: the cached (or forecast) middle-block residuals added to the image and text streams.
  virtual void apply_cached(at::Tensor& image, at::Tensor& text) = 0;
  // A miss: what the middle blocks added to each stream, for later hits.
  virtual void store(const at::Tensor& fn_residual, const at::Tensor& image_residual,
                     const at::Tensor& text_residual) = 0;
};

}  // namespace glmh
