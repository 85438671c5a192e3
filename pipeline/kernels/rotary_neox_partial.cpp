#include "pipeline/kernels/rotary_neox_partial.h"

#include <ATen/ATen.h>

#include "pipeline/kernels/kernel_dispatch.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

at::Tensor rotary_neox_partial_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                         int64_t rot) {
  const int64_t hd = x.size(-1);
  const at::Tensor r = x.narrow(-1, 0, rot);
  const at::Tensor swapped = at::cat({r.narrow(-1, rot / 2, rot / 2), r.narrow(-1, 0, rot / 2)}, -1);
  return at::cat({at::addcmul(r * cos, swapped, sin), x.narrow(-1, rot, hd - rot)}, -1);
}

at::Tensor rotary_neox_partial(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rot) {
  TORCH_CHECK(x.dim() == 4 && rot % 2 == 0 && rot <= x.size(3), "rotary_neox_partial: x must be [B, H, S, hd]");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t b = x.size(0), h = x.size(1), s = x.size(2), hd = x.size(3);
  auto table_ok = [&](const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.is_contiguous() && t.numel() == b * s * rot && t.size(-1) == rot;
  };
  if (fused_kernels_apply(x) && x.scalar_type() == at::kBFloat16 && x.stride(3) == 1 && table_ok(cos) &&
      table_ok(sin)) {
    at::Tensor out = at::empty({b, h, s, hd}, x.options());
    cuda_kernels::launch_rotary_neox_partial(out.data_ptr(), x.data_ptr(), x.stride(0), x.stride(1), x.stride(2),
                                             cos.data_ptr(), sin.data_ptr(), b, h, s, hd, rot, current_stream_of(x));
    return out;
  }
#endif
  return rotary_neox_partial_reference(x, cos, sin, rot);
}

}  // namespace glmh
