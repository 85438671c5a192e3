// The AR decoder's partial NeoX rotary of q and k in one launch (the composition took five small
// kernels per layer per token), and for a decode token also the KV cache write (two more):
// docs/performance.md#fused-kernels. One thread per output element.
#include "pipeline/kernels/cuda/dependent_launch.cuh"
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/element_math.cuh"

namespace glmh::cuda_kernels {

namespace {

// Element d of a head row after the rotation, with cos / sin the row's [rot] angles.
__device__ __forceinline__ __nv_bfloat16 rotated_element(const __nv_bfloat16* row, int d, int rot,
                                                         const __nv_bfloat16* cos, const __nv_bfloat16* sin) {
  if (d >= rot) return row[d];
  const int half = rot / 2;
  const float r = to_float(row[d]), swapped = to_float(row[d < half ? d + half : d - half]);
  // r * cos rounded (a tensor of its own), then addcmul's one rounding of (r cos) + swapped * sin.
  const float r_cos = round_to<__nv_bfloat16>(r * to_float(cos[d]));
  return __float2bfloat16_rn(r_cos + swapped * to_float(sin[d]));
}

__global__ void rotary_neox_partial_kernel(__nv_bfloat16* out, const __nv_bfloat16* x, int64_t stride_b,
                                           int64_t stride_h, int64_t stride_s, const __nv_bfloat16* cos,
                                           const __nv_bfloat16* sin, int64_t heads, int64_t seq, int head_dim,
                                           int rot, int64_t total) {
  wait_for_preceding_kernel();
  allow_dependent_launch();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int d = int(i % head_dim);
  const int64_t s = (i / head_dim) % seq, h = (i / (int64_t(head_dim) * seq)) % heads,
                b = i / (int64_t(head_dim) * seq * heads);
  const int64_t angle = (b * seq + s) * rot;
  out[i] = rotated_element(x + b * stride_b + h * stride_h + s * stride_s, d, rot, cos + angle, sin + angle);
}

// One decode token: heads [0, q_heads) rotated into q_out, the next kv_heads rotated into k_cache's
// slot, the last kv_heads copied into v_cache's slot (the slot read on the device).
__global__ void rotary_qk_into_kv_cache_kernel(__nv_bfloat16* q_out, __nv_bfloat16* k_cache, __nv_bfloat16* v_cache,
                                               const __nv_bfloat16* qkv, int64_t stride_b, int64_t stride_h,
                                               const __nv_bfloat16* cos, const __nv_bfloat16* sin,
                                               const int64_t* slot, int64_t q_heads, int64_t kv_heads,
                                               int64_t capacity, int head_dim, int rot, int64_t total) {
  wait_for_preceding_kernel();
  allow_dependent_launch();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int d = int(i % head_dim);
  const int64_t all_heads = q_heads + 2 * kv_heads, h = (i / head_dim) % all_heads, b = i / (head_dim * all_heads);
  const __nv_bfloat16* row = qkv + b * stride_b + h * stride_h;
  if (h >= q_heads + kv_heads) {
    v_cache[((b * kv_heads + h - q_heads - kv_heads) * capacity + *slot) * head_dim + d] = row[d];
    return;
  }
  const __nv_bfloat16 value = rotated_element(row, d, rot, cos + b * rot, sin + b * rot);
  if (h < q_heads) q_out[(b * q_heads + h) * head_dim + d] = value;
  else k_cache[((b * kv_heads + h - q_heads) * capacity + *slot) * head_dim + d] = value;
}

constexpr int kThreads = 256;

}  // namespace

void launch_rotary_neox_partial(void* out, const void* x, int64_t stride_b, int64_t stride_h, int64_t stride_s,
                                const void* cos, const void* sin, int64_t batch, int64_t heads, int64_t seq,
                                int64_t head_dim, int64_t rot, void* stream) {
  const int64_t total = batch * heads * seq * head_dim;
  if (total == 0) return;
  launch_dependent(rotary_neox_partial_kernel, dim3(unsigned((total + kThreads - 1) / kThreads)), dim3(kThreads), 0,
                   as_stream(stream), static_cast<__nv_bfloat16*>(out), static_cast<const __nv_bfloat16*>(x),
                   stride_b, stride_h, stride_s, static_cast<const __nv_bfloat16*>(cos),
                   static_cast<const __nv_bfloat16*>(sin), heads, seq, int(head_dim), int(rot), total);
}

void launch_rotary_qk_into_kv_cache(void* q_out, void* k_cache, void* v_cache, const void* qkv, int64_t stride_b,
                                    int64_t stride_h, const void* cos, const void* sin, const int64_t* slot,
                                    int64_t batch, int64_t q_heads, int64_t kv_heads, int64_t capacity,
                                    int64_t head_dim, int64_t rot, void* stream) {
  const int64_t total = batch * (q_heads + 2 * kv_heads) * head_dim;
  if (total == 0) return;
  launch_dependent(rotary_qk_into_kv_cache_kernel, dim3(unsigned((total + kThreads - 1) / kThreads)), dim3(kThreads),
                   0, as_stream(stream), static_cast<__nv_bfloat16*>(q_out), static_cast<__nv_bfloat16*>(k_cache),
                   static_cast<__nv_bfloat16*>(v_cache), static_cast<const __nv_bfloat16*>(qkv), stride_b, stride_h,
                   static_cast<const __nv_bfloat16*>(cos), static_cast<const __nv_bfloat16*>(sin), slot, q_heads,
                   kv_heads, capacity, int(head_dim), int(rot), total);
}

}  // namespace glmh::cuda_kernels
