#include "pipeline/kernels/head_norm_rotary.h"

#include <ATen/ATen.h>

#include "pipeline/kernels/kernel_dispatch.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

at::Tensor apply_rotary_split_half(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor x1 = xf.narrow(-1, 0, half), x2 = xf.narrow(-1, half, half);
  // [S, D/2] -> [1, S, 1, D/2] against x [B, S, H, D/2].
  const at::Tensor c = cos.to(at::kFloat).unsqueeze(0).unsqueeze(2);
  const at::Tensor s = sin.to(at::kFloat).unsqueeze(0).unsqueeze(2);
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1).to(x.scalar_type());
}

at::Tensor head_norm_rotary_reference(const at::Tensor& x, int64_t text_len, const at::Tensor& cos,
                                      const at::Tensor& sin, double eps) {
  const at::Tensor normed = at::layer_norm(x, {x.size(-1)}, {}, {}, eps);
  const int64_t seq = x.size(1);
  return at::cat({normed.narrow(1, 0, text_len),
                  apply_rotary_split_half(normed.narrow(1, text_len, seq - text_len), cos, sin)},
                 1);
}

at::Tensor head_norm_rotary(const at::Tensor& x, int64_t text_len, const at::Tensor& cos, const at::Tensor& sin,
                            double eps) {
  TORCH_CHECK(x.dim() == 4 && text_len >= 0 && text_len <= x.size(1), "head_norm_rotary: x must be [B, S, H, Dh]");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const auto dtype = x.scalar_type();
  const int64_t b = x.size(0), s = x.size(1), h = x.size(2);
  // The kernel's layout: head_dim 128, heads adjacent, token rows at a stride that keeps 16-byte
  // alignment; the angle tables fp32 and contiguous on the same device.
  const int64_t rs = aligned_token_row_stride(x);
  const bool layout_ok = x.size(3) == 128 && x.stride(3) == 1 && x.stride(2) == 128 && rs > 0;
  if (fused_kernels_apply(x) && x.numel() > 0 && layout_ok && (dtype == at::kBFloat16 || dtype == at::kFloat)) {
    const at::Tensor c = cos.to(x.device(), at::kFloat).contiguous(), sn = sin.to(x.device(), at::kFloat).contiguous();
    TORCH_CHECK(c.size(0) == s - text_len && c.size(1) == 64 && sn.sizes() == c.sizes(),
                "head_norm_rotary: cos / sin must be [S - text_len, 64]");
    at::Tensor out = at::empty({b, s, h, 128}, x.options());
    cuda_kernels::launch_head_norm_rotary(kernel_dtype(x), out.data_ptr(), x.data_ptr(), rs, c.data_ptr<float>(),
                                          sn.data_ptr<float>(), b, s, h, text_len, float(eps), current_stream_of(x));
    return out;
  }
#endif
  return head_norm_rotary_reference(x, text_len, cos, sin, eps);
}

}  // namespace glmh
