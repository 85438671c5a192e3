// The AR decoder's KV cache: per layer, keys and values of every token seen so far, in buffers
// allocated once for the whole generation (prompt + every token to generate), so a decode step
// writes one slot and attends over the buffers' first valid_keys slots (decode_attention): no
// reallocation, no host synchronisation, the same shapes every step.
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
  // The whole buffers of `layer` ([B, kv_heads, capacity, head_dim]; unwritten slots are zero) and
  // how many slots hold a token once `n` more are appended (int64 [1] on the device): a decode
  // step attends over these fixed shapes (decode_attention), so every step runs the same kernels
  // (a key length that grows by one per token cost a cuBLAS heuristic query per new shape: the
  // first generation on an H200 was about 20 times slower than the next one).
  const at::Tensor& key_buffer(int64_t layer) const { return keys_.at(layer); }
  const at::Tensor& value_buffer(int64_t layer) const { return values_.at(layer); }
  at::Tensor valid_keys(int64_t n) const;
  // The same with the write position on the device (slot: int64 [1]), for a decode step that a
  // CUDA graph replays: the step writes its k, v into `slot` of the buffers above
  // (rotary_qk_into_kv_cache); the slots up to and including it hold tokens. The host-side
  // length() does not move.
  at::Tensor valid_keys_through(const at::Tensor& slot) const;
  // Forgets every token after the first `length` (a prefilled prompt reused by another generation).
  void truncate(int64_t length);

 private:
  std::vector<at::Tensor> keys_, values_;  // [B, kv_heads, capacity, head_dim] per layer
  int64_t capacity_ = 0;
  int64_t length_ = 0;
};

}  // namespace glmh
