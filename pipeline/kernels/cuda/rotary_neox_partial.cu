// The AR decoder's partial NeoX rotary of q and k in one launch (the composition took five small
// kernels per layer per token): docs/performance.md#fused-kernels. One thread per output element.
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/element_math.cuh"

namespace glmh::cuda_kernels {

namespace {

__global__ void rotary_neox_partial_kernel(__nv_bfloat16* out, const __nv_bfloat16* x, int64_t stride_b,
                                           int64_t stride_h, int64_t stride_s, const __nv_bfloat16* cos,
                                           const __nv_bfloat16* sin, int64_t heads, int64_t seq, int head_dim,
                                           int rot, int64_t total) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int d = int(i % head_dim);
  const int64_t s = (i / head_dim) % seq, h = (i / (int64_t(head_dim) * seq)) % heads,
                b = i / (int64_t(head_dim) * seq * heads);
  const __nv_bfloat16* row = x + b * stride_b + h * stride_h + s * stride_s;
  if (d >= rot) {
    out[i] = row[d];
    return;
  }
  const int half = rot / 2;
  const int64_t angle = (b * seq + s) * rot + d;
  const float r = to_float(row[d]), swapped = to_float(row[d < half ? d + half : d - half]);
  // r * cos rounded (a tensor of its own), then addcmul's one rounding of (r cos) + swapped * sin.
  const float r_cos = round_to<__nv_bfloat16>(r * to_float(cos[angle]));
  out[i] = __float2bfloat16_rn(r_cos + swapped * to_float(sin[angle]));
}

}  // namespace

void launch_rotary_neox_partial(void* out, const void* x, int64_t stride_b, int64_t stride_h, int64_t stride_s,
                                const void* cos, const void* sin, int64_t batch, int64_t heads, int64_t seq,
                                int64_t head_dim, int64_t rot, void* stream) {
  const int64_t total = batch * heads * seq * head_dim;
  if (total == 0) return;
  constexpr int kThreads = 256;
  rotary_neox_partial_kernel<<<unsigned((total + kThreads - 1) / kThreads), kThreads, 0, as_stream(stream)>>>(
      static_cast<__nv_bfloat16*>(out), static_cast<const __nv_bfloat16*>(x), stride_b, stride_h, stride_s,
      static_cast<const __nv_bfloat16*>(cos), static_cast<const __nv_bfloat16*>(sin), heads, seq, int(head_dim),
      int(rot), total);
}

}  // namespace glmh::cuda_kernels
