#include "pipeline/model/ar/token_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "pipeline/kernels/sample_top_p.h"

namespace glmh {

namespace {

bool top_k_applies(const SamplingConfig& config, int64_t vocab) { return config.top_k > 0 && config.top_k < vocab; }

}  // namespace

at::Tensor sampling_uniforms(uint64_t seed, int64_t count, const c10::Device& device) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  // 1 - U[0, 1) lies in (0, 1]: a draw of exactly 0 would select a token of probability 0.
  const at::Tensor u = 1.0 - at::rand({count}, generator, at::TensorOptions().dtype(at::kDouble));
  return u.to(device);
}

at::Tensor sampling_cdf(const at::Tensor& logits_in, const SamplingConfig& config, int64_t allowed) {
  at::Tensor logits = restricted_logits(logits_in, allowed) / config.temperature;
  if (top_k_applies(config, logits.size(-1))) {
    const at::Tensor kth = std::get<0>(logits.topk(config.top_k, -1)).narrow(-1, config.top_k - 1, 1);
    logits = logits.masked_fill(logits < kth, -std::numeric_limits<double>::infinity());
  }
  return nucleus_cdf(logits, config.top_p);
}

at::Tensor select_tokens(const at::Tensor& logits, const at::Tensor& uniform, const SamplingConfig& config,
                         int64_t allowed) {
  if (config.greedy) return restricted_logits(logits, allowed).argmax(-1);
  // Without top-k, one kernel on a GPU (pipeline/kernels/sample_top_p.h).
  if (!top_k_applies(config, logits.size(-1)))
    return sample_top_p(logits, uniform.to(at::kDouble), config.temperature, config.top_p, allowed);
  return draw_from_cdf(sampling_cdf(logits, config, allowed), uniform);
}

}  // namespace glmh
