#include "pipeline/model/ar/token_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

namespace glmh {

at::Tensor sampling_uniforms(uint64_t seed, int64_t count, const c10::Device& device) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  // 1 - U[0, 1) lies in (0, 1]: a draw of exactly 0 would select a token of probability 0.
  const at::Tensor u = 1.0 - at::rand({count}, generator, at::TensorOptions().dtype(at::kDouble));
  return u.to(device);
}

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// float32 logits with the ids at and above `allowed` (> 0) ruled out.
at::Tensor restricted(const at::Tensor& logits_in, int64_t allowed) {
  at::Tensor logits = logits_in.to(at::kFloat);
  if (allowed > 0 && allowed < logits.size(-1)) logits.narrow(-1, allowed, logits.size(-1) - allowed).fill_(kNegInf);
  return logits;
}

}  // namespace

at::Tensor sampling_cdf(const at::Tensor& logits_in, const SamplingConfig& config, int64_t allowed) {
  at::Tensor logits = restricted(logits_in, allowed) / config.temperature;
  if (config.top_k > 0 && config.top_k < logits.size(-1)) {
    const at::Tensor kth = std::get<0>(logits.topk(config.top_k, -1)).narrow(-1, config.top_k - 1, 1);
    logits = logits.masked_fill(logits < kth, kNegInf);
  }
  if (config.top_p < 1.0) {
    // Ascending sort: drop the low tail whose total probability is at most 1 - top_p, always
    // keeping the most likely token (Hugging Face's TopPLogitsWarper).
    const auto [sorted, order] = logits.sort(-1, /*descending=*/false);
    const at::Tensor tail = sorted.softmax(-1).cumsum(-1) <= (1.0 - config.top_p);
    tail.narrow(-1, tail.size(-1) - 1, 1).fill_(false);
    logits = logits.masked_fill(at::zeros_like(tail).scatter(-1, order, tail), kNegInf);
  }
  return logits.softmax(-1).to(at::kDouble).cumsum(-1);
}

at::Tensor select_tokens(const at::Tensor& logits, const at::Tensor& uniform, const SamplingConfig& config,
                         int64_t allowed) {
  if (config.greedy) return restricted(logits, allowed).argmax(-1);
  const at::Tensor cdf = sampling_cdf(logits, config, allowed);  // [B, V]
  const at::Tensor target = (uniform.to(at::kDouble) * cdf.narrow(-1, cdf.size(-1) - 1, 1).squeeze(-1)).unsqueeze(-1);
  return at::searchsorted(cdf, target).squeeze(-1).clamp_max(logits.size(-1) - 1);
}

}  // namespace glmh
