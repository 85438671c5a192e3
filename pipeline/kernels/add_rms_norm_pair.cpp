#include "pipeline/kernels/add_rms_norm_pair.h"

#include <ATen/ATen.h>

#include "pipeline/kernels/kernel_dispatch.h"
#include "pipeline/runtime/torch_compat.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

std::pair<at::Tensor, at::Tensor> add_rms_norm_pair_reference(const at::Tensor& h, const at::Tensor& y,
                                                              const at::Tensor& w_y, const at::Tensor& w_z,
                                                              double eps) {
  at::Tensor sum = h + compat::rms_norm(y, w_y, eps);
  at::Tensor normed = compat::rms_norm(sum, w_z, eps);
  return {std::move(sum), std::move(normed)};
}

std::pair<at::Tensor, at::Tensor> add_rms_norm_pair(const at::Tensor& h, const at::Tensor& y, const at::Tensor& w_y,
                                                    const at::Tensor& w_z, double eps) {
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t width = h.size(-1);
  auto bf16_contiguous = [](const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.is_contiguous() && aligned_16(t);
  };
  if (fused_kernels_apply(h) && h.sizes() == y.sizes() && width % 8 == 0 && width <= 8192 && bf16_contiguous(h) &&
      bf16_contiguous(y) && bf16_contiguous(w_y) && bf16_contiguous(w_z) && w_y.numel() == width &&
      w_z.numel() == width && h.numel() > 0) {
    at::Tensor sum = at::empty_like(h), normed = at::empty_like(h);
    cuda_kernels::launch_add_rms_norm_pair(sum.data_ptr(), normed.data_ptr(), h.data_ptr(), y.data_ptr(),
                                           w_y.data_ptr(), w_z.data_ptr(), h.numel() / width, width, float(eps),
                                           current_stream_of(h));
    return {std::move(sum), std::move(normed)};
  }
#endif
  return add_rms_norm_pair_reference(h, y, w_y, w_z, eps);
}

}  // namespace glmh
