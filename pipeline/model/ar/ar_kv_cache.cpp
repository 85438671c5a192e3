#include "pipeline/model/ar/ar_kv_cache.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "pipeline/model/ar/glm_image_text_model.h"

namespace glmh {

ArKvCache::ArKvCache(const GlmImageTextConfig& c, int64_t batch, int64_t capacity, const c10::Device& device,
                     c10::ScalarType dtype)
    : capacity_(capacity) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    // Zeros, not empty: a masked slot's value still meets a zero weight, and 0 x NaN is NaN.
    keys_.push_back(at::zeros({batch, c.num_key_value_heads, capacity, c.head_size()}, options));
    values_.push_back(at::zeros({batch, c.num_key_value_heads, capacity, c.head_size()}, options));
  }
}

at::Tensor ArKvCache::valid_keys(int64_t n) const {
  return at::full({1}, length_ + n, at::TensorOptions().dtype(at::kLong).device(keys_.at(0).device()));
}

at::Tensor ArKvCache::valid_keys_through(const at::Tensor& slot) const { return slot.to(at::kLong).reshape({1}) + 1; }

std::pair<at::Tensor, at::Tensor> ArKvCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  const int64_t n = k.size(2);
  if (length_ + n > capacity_)
    throw std::invalid_argument("AR KV cache: " + std::to_string(length_ + n) + " tokens exceed its capacity of " +
                                std::to_string(capacity_));
  keys_[layer].narrow(2, length_, n).copy_(k);
  values_[layer].narrow(2, length_, n).copy_(v);
  return {keys_[layer].narrow(2, 0, length_ + n), values_[layer].narrow(2, 0, length_ + n)};
}

void ArKvCache::advance(int64_t n) { length_ += n; }

void ArKvCache::truncate(int64_t length) {
  if (length < 0 || length > length_)
    throw std::invalid_argument("AR KV cache: cannot truncate " + std::to_string(length_) + " tokens to " +
                                std::to_string(length));
  length_ = length;
}

}  // namespace glmh
