#include "pipeline/kernels/sample_top_p.h"

#include <ATen/ATen.h>

#include <limits>

#include "pipeline/kernels/kernel_dispatch.h"

namespace glmh {

at::Tensor restricted_logits(const at::Tensor& logits_in, int64_t allowed) {
  at::Tensor logits = logits_in.to(at::kFloat);
  if (allowed > 0 && allowed < logits.size(-1))
    logits.narrow(-1, allowed, logits.size(-1) - allowed).fill_(-std::numeric_limits<double>::infinity());
  return logits;
}

at::Tensor nucleus_cdf(const at::Tensor& scaled_logits, double top_p) {
  at::Tensor logits = scaled_logits;
  if (top_p < 1.0) {
    // Ascending sort: drop the low tail whose total probability is at most 1 - top_p, always
    // keeping the most likely token (Hugging Face's TopPLogitsWarper).
    const auto [sorted, order] = logits.sort(-1, /*descending=*/false);
    const at::Tensor tail = sorted.softmax(-1).cumsum(-1) <= (1.0 - top_p);
    tail.narrow(-1, tail.size(-1) - 1, 1).fill_(false);
    logits = logits.masked_fill(at::zeros_like(tail).scatter(-1, order, tail), -std::numeric_limits<double>::infinity());
  }
  return logits.softmax(-1).to(at::kDouble).cumsum(-1);
}

at::Tensor draw_from_cdf(const at::Tensor& cdf, const at::Tensor& uniform) {
  const at::Tensor target = (uniform.to(at::kDouble) * cdf.narrow(-1, cdf.size(-1) - 1, 1).squeeze(-1)).unsqueeze(-1);
  return at::searchsorted(cdf, target).squeeze(-1).clamp_max(cdf.size(-1) - 1);
}

at::Tensor sample_top_p_reference(const at::Tensor& logits, const at::Tensor& uniform, double temperature,
                                  double top_p, int64_t allowed) {
  return draw_from_cdf(nucleus_cdf(restricted_logits(logits, allowed) / temperature, top_p), uniform);
}

at::Tensor sample_top_p(const at::Tensor& logits, const at::Tensor& uniform, double temperature, double top_p,
                        int64_t allowed) {
  TORCH_CHECK(logits.dim() == 2 && uniform.numel() == logits.size(0),
              "sample_top_p: logits [B, V] and one uniform per row");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const bool kernel_takes = (logits.scalar_type() == at::kBFloat16 || logits.scalar_type() == at::kFloat) &&
                            vocab > 0 && vocab <= cuda_kernels::kSampleTopPMaxVocab && temperature > 0 &&
                            top_p > 0 && uniform.scalar_type() == at::kDouble && uniform.device() == logits.device();
  if (fused_kernels_apply(logits) && kernel_takes && rows > 0) {
    const at::Tensor rows_in = logits.contiguous(), draws = uniform.contiguous();
    at::Tensor tokens = at::empty({rows}, logits.options().dtype(at::kLong));
    cuda_kernels::launch_sample_top_p(kernel_dtype(rows_in), tokens.data_ptr<int64_t>(), rows_in.data_ptr(),
                                      draws.data_ptr<double>(), rows, vocab, allowed, float(temperature), top_p,
                                      current_stream_of(logits));
    return tokens;
  }
#endif
  return sample_top_p_reference(logits, uniform, temperature, top_p, allowed);
}

}  // namespace glmh
