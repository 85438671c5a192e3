#include "pipeline/model/dit/dit_kv_cache.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "pipeline/runtime/error_text.h"

namespace glmh {

namespace {

// The cache broadcast to `batch` samples, without copying when it is shared by all of them.
at::Tensor to_batch(const at::Tensor& cached, int64_t batch) {
  const int64_t cached_batch = cached.size(0);
  if (cached_batch == batch) return cached;
  if (cached_batch == 1) return cached.expand({batch, -1, -1, -1});
  if (batch % cached_batch == 0) return cached.repeat_interleave(batch / cached_batch, 0);
  throw std::invalid_argument("DiT KV cache: " + std::to_string(cached_batch) + " cached samples cannot serve a batch of " +
                              std::to_string(batch) + " (expected 1, the batch, or a divisor of it)");
}

void require_cache(const DitKvCache* cache, DitKvCacheMode mode) {
  if ((mode == DitKvCacheMode::kWrite || mode == DitKvCacheMode::kRead) && cache == nullptr)
    throw std::invalid_argument(std::string("DiT KV cache mode ") + to_string(mode) +
                                " needs a cache (DiTInputs::kv_cache is null)");
}

}  // namespace

DitKvCache::DitKvCache(int64_t num_layers) {
  if (num_layers < 0) throw std::invalid_argument("DiT KV cache: num_layers " + std::to_string(num_layers) + " (expected >= 0)");
  keys_.resize(num_layers);
  values_.resize(num_layers);
}

int64_t DitKvCache::cached_tokens() const {
  return keys_.empty() || !keys_.front().defined() ? 0 : keys_.front().size(1);
}

void DitKvCache::clear() {
  for (auto& k : keys_) k = at::Tensor();
  for (auto& v : values_) v = at::Tensor();
}

void DitKvCache::check_layer(int64_t layer) const {
  if (layer < 0 || layer >= num_layers())
    throw std::invalid_argument("DiT KV cache: layer " + std::to_string(layer) + " out of range (cache has " +
                                std::to_string(num_layers()) + " layers)");
}

void DitKvCache::append(int64_t layer, const at::Tensor& key, const at::Tensor& value) {
  check_layer(layer);
  if (key.dim() != 4 || key.sizes() != value.sizes())
    throw std::invalid_argument("DiT KV cache: key " + shape_text(key.sizes()) + " and value " + shape_text(value.sizes()) +
                                " (expected the same [B, S, heads, head_dim])");
  at::Tensor& k = keys_[layer];
  at::Tensor& v = values_[layer];
  if (!k.defined()) {
    k = key;
    v = value;
    return;
  }
  if (k.size(0) != key.size(0) || k.size(2) != key.size(2) || k.size(3) != key.size(3))
    throw std::invalid_argument("DiT KV cache: layer " + std::to_string(layer) + " holds " + shape_text(k.sizes()) +
                                ", cannot append " + shape_text(key.sizes()) + " (expected the same batch, heads, head_dim)");
  // Concatenated once per reference image, so every read is a single cat with the current K/V.
  k = at::cat({k, key}, 1);
  v = at::cat({v, value}, 1);
}

std::pair<at::Tensor, at::Tensor> DitKvCache::prepend_to(int64_t layer, const at::Tensor& key,
                                                        const at::Tensor& value) const {
  check_layer(layer);
  const at::Tensor& k = keys_[layer];
  if (!k.defined()) return {key, value};  // nothing cached: attend as without a cache, as upstream does
  const int64_t batch = key.size(0);
  return {at::cat({to_batch(k, batch), key}, 1), at::cat({to_batch(values_[layer], batch), value}, 1)};
}

std::pair<at::Tensor, at::Tensor> keys_values_to_attend(DitKvCache* cache, DitKvCacheMode mode, int64_t layer,
                                                        const at::Tensor& key, const at::Tensor& value) {
  require_cache(cache, mode);
  switch (mode) {
    case DitKvCacheMode::kWrite:
      cache->append(layer, key, value);
      return {key, value};
    case DitKvCacheMode::kRead:
      return cache->prepend_to(layer, key, value);
    case DitKvCacheMode::kSkip:
    case DitKvCacheMode::kOff:
      break;
  }
  return {key, value};
}

void check_kv_cache_use(const DitKvCache* cache, DitKvCacheMode mode, int64_t model_layers) {
  require_cache(cache, mode);
  if (cache != nullptr && mode != DitKvCacheMode::kOff && cache->num_layers() != model_layers)
    throw std::invalid_argument("DiT KV cache has " + std::to_string(cache->num_layers()) +
                                " layers (expected the model's " + std::to_string(model_layers) + ")");
}

const char* to_string(DitKvCacheMode mode) {
  switch (mode) {
    case DitKvCacheMode::kOff: return "off";
    case DitKvCacheMode::kWrite: return "write";
    case DitKvCacheMode::kRead: return "read";
    case DitKvCacheMode::kSkip: return "skip";
  }
  return "unknown";
}

}  // namespace glmh
