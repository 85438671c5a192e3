// The AR decoder's KV cache: per layer, keys and values of every token seen so far, in buffers
// allocated once for the whole generation (prompt + every token to generate), so a decode step
// writes one slot and attends over a view: no reallocation, no host synchronisation.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <vector>

namespace glmh {

struct GlmImageTextConfig;

class ArKvCache {
 public:
  ArKvCache(const GlmImageTextConfig& config, int64_t batch, int64_t capacity, const c10::Device& device,
            c10::ScalarType dtype);

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  // Writes k, v [B, kv_heads, n, head_dim] of `layer` after the cached tokens and returns the
  // keys and values of all length() + n tokens. Call for every layer, then advance(n).
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  void advance(int64_t n);
  // Forgets every token after the first `length` (a prefilled prompt reused by another generation).
  void truncate(int64_t length);

 private:
  std::vector<at::Tensor> keys_, values_;  // [B, kv_heads, capacity, head_dim] per layer
  int64_t capacity_ = 0;
  int64_t length_ = 0;
};

}  // namespace glmh
