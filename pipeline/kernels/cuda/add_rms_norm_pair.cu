// The AR decoder's sandwich norms between sublayers in one pass per row:
// h_out = h + rms_norm(y) * w_y, then z = rms_norm(h_out) * w_z (docs/performance.md#fused-kernels).
// Three launches become one, and a decode step has 80 of them.
#include "pipeline/kernels/cuda/dependent_launch.cuh"
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/vector_io.cuh"

namespace glmh::cuda_kernels {

namespace {

constexpr int kThreads = 512;
constexpr int kMaxVectorsPerThread = 2;  // width <= 2 x 8 x 512 = 8192

__global__ void __launch_bounds__(kThreads)
    add_rms_norm_pair_kernel(__nv_bfloat16* h_out, __nv_bfloat16* z, const __nv_bfloat16* h, const __nv_bfloat16* y,
                             const __nv_bfloat16* w_y, const __nv_bfloat16* w_z, int width, float eps) {
  __shared__ float scratch[kThreads / 32];
  const int64_t offset = int64_t(blockIdx.x) * width;
  const int vectors = width / 8;
  // The norm weights are constant: loaded before waiting for the kernel that produced y.
  float wy[kMaxVectorsPerThread][8], wz[kMaxVectorsPerThread][8];
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
      load8(w_y + vec * 8, wy[i]);
      load8(w_z + vec * 8, wz[i]);
    }
  }
  wait_for_preceding_kernel();
  allow_dependent_launch();
  float yv[kMaxVectorsPerThread][8], hv[kMaxVectorsPerThread][8];
  float squares = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
      load8(y + offset + vec * 8, yv[i]);
      load8(h + offset + vec * 8, hv[i]);
#pragma unroll
      for (int e = 0; e < 8; ++e) squares += yv[i][e] * yv[i][e];
    }
  }
  const float rstd_y = rsqrtf(block_sum<kThreads>(squares, scratch) / float(width) + eps);
  squares = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        hv[i][e] = round_to<__nv_bfloat16>(hv[i][e] + round_to<__nv_bfloat16>(yv[i][e] * rstd_y * wy[i][e]));
        squares += hv[i][e] * hv[i][e];
      }
      store8(h_out + offset + vec * 8, hv[i]);
    }
  }
  const float rstd_h = rsqrtf(block_sum<kThreads>(squares, scratch) / float(width) + eps);
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
      float out[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) out[e] = hv[i][e] * rstd_h * wz[i][e];
      store8(z + offset + vec * 8, out);
    }
  }
}

}  // namespace

void launch_add_rms_norm_pair(void* h_out, void* z, const void* h, const void* y, const void* w_y, const void* w_z,
                              int64_t rows, int64_t width, float eps, void* stream) {
  if (rows == 0) return;
  launch_dependent(add_rms_norm_pair_kernel, dim3(unsigned(rows)), dim3(kThreads), 0, as_stream(stream),
                   static_cast<__nv_bfloat16*>(h_out), static_cast<__nv_bfloat16*>(z),
                   static_cast<const __nv_bfloat16*>(h), static_cast<const __nv_bfloat16*>(y),
                   static_cast<const __nv_bfloat16*>(w_y), static_cast<const __nv_bfloat16*>(w_z), int(width), eps);
}

}  // namespace glmh::cuda_kernels
