// The sampling tail of an AR decode step: one token per row from logits by temperature, top-p
// (nucleus) filtering and an inverse-CDF draw, as Hugging Face generate() samples GLM-Image
// (docs/model.md#sampling). On a GPU one kernel (cuda/sample_top_p.cu) replaces the ~20 ATen
// kernels around a radix sort of the vocabulary (docs/performance.md#fused-kernels); it rounds
// differently from the reference, so a draw within ~1e-7 of a boundary between two ids may pick
// the other one. Elsewhere, and as the reference, the ATen composition below.
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

// float32 logits with the ids at and above `allowed` (> 0) ruled out (-inf).
at::Tensor restricted_logits(const at::Tensor& logits, int64_t allowed);

// Temperature-scaled float logits [B, V] -> float64 [B, V]: the cumulative distribution after
// top-p (its last column is the total, ~1).
at::Tensor nucleus_cdf(const at::Tensor& scaled_logits, double top_p);

// The first id per row whose cumulative probability reaches uniform x total: cdf [B, V],
// uniform [B] in (0, 1] -> int64 [B].
at::Tensor draw_from_cdf(const at::Tensor& cdf, const at::Tensor& uniform);

// logits [B, V], uniform [B] float64 in (0, 1] -> token ids [B] int64.
at::Tensor sample_top_p(const at::Tensor& logits, const at::Tensor& uniform, double temperature, double top_p,
                        int64_t allowed);
at::Tensor sample_top_p_reference(const at::Tensor& logits, const at::Tensor& uniform, double temperature,
                                  double top_p, int64_t allowed);

}  // namespace glmh
