#include "pipeline/kernels/decode_linear.h"

#include <ATen/ATen.h>

#include "pipeline/kernels/kernel_dispatch.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

#if defined(GLMH_WITH_CUDA_KERNELS)
namespace {

// The GEMV's layout: one bf16 row of k (k % 8 == 0, at most 16384, its shared-memory copy), a
// contiguous bf16 weight and bias, 16-byte aligned.
bool gemv_takes(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t k = x.size(-1);
  return fused_kernels_apply(x) && x.numel() == k && x.scalar_type() == at::kBFloat16 &&
         weight.scalar_type() == at::kBFloat16 && weight.dim() == 2 && weight.size(1) == k && k % 8 == 0 &&
         k <= 16384 && weight.is_contiguous() && aligned_16(weight) &&
         (!bias.defined() || (bias.scalar_type() == at::kBFloat16 && bias.is_contiguous()));
}

// The GEMV on x's one row into [..., outputs]: outputs = n rows of the weight, or F = n / 2 gated.
at::Tensor run_gemv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t gated_rows) {
  const at::Tensor row = x.contiguous();
  const at::Tensor input = aligned_16(row) ? row : row.clone();
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = gated_rows > 0 ? gated_rows : weight.size(0);
  at::Tensor y = at::empty(sizes, x.options());
  cuda_kernels::launch_decode_gemv(y.data_ptr(), input.data_ptr(), weight.data_ptr(),
                                   bias.defined() ? bias.data_ptr() : nullptr, weight.size(0), weight.size(1),
                                   gated_rows, current_stream_of(x));
  return y;
}

}  // namespace
#endif

at::Tensor decode_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
#if defined(GLMH_WITH_CUDA_KERNELS)
  if (gemv_takes(x, weight, bias)) return run_gemv(x, weight, bias, 0);
#endif
  return at::linear(x, weight, bias);
}

at::Tensor decode_silu_gated_up_reference(const at::Tensor& x, const at::Tensor& gate_up_weight) {
  const auto gate_up = at::linear(x, gate_up_weight).chunk(2, -1);
  return gate_up[1] * at::silu(gate_up[0]);
}

at::Tensor decode_silu_gated_up(const at::Tensor& x, const at::Tensor& gate_up_weight) {
#if defined(GLMH_WITH_CUDA_KERNELS)
  if (gemv_takes(x, gate_up_weight, {}) && gate_up_weight.size(0) % 2 == 0)
    return run_gemv(x, gate_up_weight, {}, gate_up_weight.size(0) / 2);
#endif
  return decode_silu_gated_up_reference(x, gate_up_weight);
}

}  // namespace glmh
