// Choosing the next AR token from logits, as Hugging Face generate() does for GLM-Image
// (docs/model.md#sampling): temperature, then top-k, then top-p (nucleus), then a draw from what
// remains; or greedy argmax.
//
// The draw is inverse-CDF with uniforms drawn in advance from a seeded CPU generator, one per
// generated token: the same seed gives the same tokens on every rank and every device, and a
// decode step never waits on the host. (Upstream draws with torch.multinomial; seeded streams
// differ, the distribution is the same.)
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace glmh {

struct SamplingConfig {
  bool greedy = false;
  double temperature = 0.9;  // GLM-Image's generation_config.json
  int64_t top_k = 0;         // 0: off (the checkpoint's 16512 keeps the whole vision vocabulary)
  double top_p = 0.75;       // 1: off
};

// One uniform in (0, 1] per token to generate, on `device`, from `seed` (CPU mt19937).
at::Tensor sampling_uniforms(uint64_t seed, int64_t count, const c10::Device& device);

// The cumulative distribution a sampled draw searches: logits [B, V] -> float64 [B, V] after
// the allowed-id limit, temperature, top-k and top-p (its last column is the total, ~1).
at::Tensor sampling_cdf(const at::Tensor& logits, const SamplingConfig& config, int64_t allowed = 0);

// logits [B, V], uniform [B] in (0, 1] -> token ids [B] int64. `allowed` > 0 limits the choice to
// ids below it (the codebook, while a grid is being generated).
at::Tensor select_tokens(const at::Tensor& logits, const at::Tensor& uniform, const SamplingConfig& config,
                         int64_t allowed = 0);

}  // namespace glmh
