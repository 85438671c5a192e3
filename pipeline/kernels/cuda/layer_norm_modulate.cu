// AdaLN's "LayerNorm, then x * (1 + scale) + shift" in one pass over each row: docs/performance.md#fused-kernels.
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/vector_io.cuh"

namespace glmh::cuda_kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxVectorsPerThread = 8;  // width <= 8 x 8 x 128 = 8192

template <typename T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_modulate_kernel(T* out, int64_t out_row_stride, const T* x, int64_t x_row_stride, const T* scale,
                               const T* shift, int64_t rows_per_batch, int width, float eps) {
  __shared__ float scratch[kThreads / 32];
  const int64_t row = blockIdx.x;
  const int64_t batch = row / rows_per_batch;
  const T* in = x + row * x_row_stride;
  const int vectors = width / 8;
  float v[kMaxVectorsPerThread][8];
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
      load8(in + vec * 8, v[i]);
#pragma unroll
      for (int e = 0; e < 8; ++e) sum += v[i][e];
    }
  }
  const float mean = block_sum<kThreads>(sum, scratch) / float(width);
  float squares = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    if (threadIdx.x + i * kThreads < vectors) {
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float d = v[i][e] - mean;
        squares += d * d;
      }
    }
  }
  const float rstd = rsqrtf(block_sum<kThreads>(squares, scratch) / float(width) + eps);
  const T* scale_row = scale + batch * width;
  const T* shift_row = shift + batch * width;
  T* dst = out + row * out_row_stride;
#pragma unroll
  for (int i = 0; i < kMaxVectorsPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    if (vec < vectors) {
      float s[8], b[8], y[8];
      load8(scale_row + vec * 8, s);
      load8(shift_row + vec * 8, b);
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        // Rounded where the ATen composition stores a tensor: LN's output, 1 + scale, the product.
        const float normed = round_to<T>((v[i][e] - mean) * rstd);
        const float product = round_to<T>(__fmul_rn(normed, round_to<T>(1.f + s[e])));
        y[e] = __fadd_rn(product, b[e]);
      }
      store8(dst + vec * 8, y);
    }
  }
}

template <typename T>
void launch(void* out, int64_t out_row_stride, const void* x, int64_t x_row_stride, const void* scale,
            const void* shift, int64_t rows, int64_t rows_per_batch, int64_t width, float eps, cudaStream_t stream) {
  if (rows == 0) return;
  layer_norm_modulate_kernel<T><<<dim3(unsigned(rows)), kThreads, 0, stream>>>(
      static_cast<T*>(out), out_row_stride, static_cast<const T*>(x), x_row_stride, static_cast<const T*>(scale),
      static_cast<const T*>(shift), rows_per_batch, int(width), eps);
}

}  // namespace

void launch_layer_norm_modulate(KernelDtype dtype, void* out, int64_t out_row_stride, const void* x,
                                int64_t x_row_stride, const void* scale, const void* shift, int64_t rows,
                                int64_t rows_per_batch, int64_t width, float eps, void* stream) {
  if (dtype == KernelDtype::BFloat16)
    launch<__nv_bfloat16>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, width, eps,
                          as_stream(stream));
  else
    launch<float>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, width, eps,
                  as_stream(stream));
}

}  // namespace glmh::cuda_kernels
