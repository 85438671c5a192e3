// AdaLN's "LayerNorm, then x * (1 + scale) + shift" in one pass over each row: docs/performance.md#fused-kernels.
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/vector_io.cuh"

namespace glmh::cuda_kernels {

namespace {

// One warp per row, every 16-byte load of the row issued before the first is used: a block per row
// with block-wide reductions kept too few bytes in flight (~1.9 TB/s at 4096 x 4096).
constexpr int kWarps = 4;

template <typename T, int kVectorsPerLane>
__global__ void __launch_bounds__(kWarps * 32)
    layer_norm_modulate_kernel(T* out, int64_t out_row_stride, const T* x, int64_t x_row_stride, const T* scale,
                               const T* shift, int64_t rows, int64_t rows_per_batch, float eps) {
  constexpr int kWidth = kVectorsPerLane * 8 * 32;
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const int64_t batch = row / rows_per_batch;
  const T* in = x + row * x_row_stride;
  float v[kVectorsPerLane][8];
#pragma unroll
  for (int i = 0; i < kVectorsPerLane; ++i) load8(in + (i * 32 + lane) * 8, v[i]);
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kVectorsPerLane; ++i)
#pragma unroll
    for (int e = 0; e < 8; ++e) sum += v[i][e];
  const float mean = warp_sum(sum) / float(kWidth);
  float squares = 0.f;
#pragma unroll
  for (int i = 0; i < kVectorsPerLane; ++i)
#pragma unroll
    for (int e = 0; e < 8; ++e) squares += (v[i][e] - mean) * (v[i][e] - mean);
  const float rstd = rsqrtf(warp_sum(squares) / float(kWidth) + eps);
  const T* scale_row = scale + batch * kWidth;
  const T* shift_row = shift + batch * kWidth;
  T* dst = out + row * out_row_stride;
#pragma unroll
  for (int i = 0; i < kVectorsPerLane; ++i) {
    const int offset = (i * 32 + lane) * 8;
    float s[8], b[8], y[8];
    load8(scale_row + offset, s);
    load8(shift_row + offset, b);
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      // Rounded where the ATen composition stores a tensor: LN's output, 1 + scale, the product.
      const float normed = round_to<T>((v[i][e] - mean) * rstd);
      const float product = round_to<T>(__fmul_rn(normed, round_to<T>(1.f + s[e])));
      y[e] = __fadd_rn(product, b[e]);
    }
    store8(dst + offset, y);
  }
}

template <typename T, int kVectorsPerLane>
void launch_width(void* out, int64_t out_row_stride, const void* x, int64_t x_row_stride, const void* scale,
                  const void* shift, int64_t rows, int64_t rows_per_batch, float eps, cudaStream_t stream) {
  const unsigned blocks = unsigned((rows + kWarps - 1) / kWarps);
  layer_norm_modulate_kernel<T, kVectorsPerLane><<<blocks, kWarps * 32, 0, stream>>>(
      static_cast<T*>(out), out_row_stride, static_cast<const T*>(x), x_row_stride, static_cast<const T*>(scale),
      static_cast<const T*>(shift), rows, rows_per_batch, eps);
}

template <typename T>
void launch(void* out, int64_t out_row_stride, const void* x, int64_t x_row_stride, const void* scale,
            const void* shift, int64_t rows, int64_t rows_per_batch, int64_t width, float eps, cudaStream_t stream) {
  if (rows == 0) return;
  switch (width / 256) {  // the wrapper admits widths of 256 x {1, 2, 4, 8, 16}
    case 1: return launch_width<T, 1>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, eps, stream);
    case 2: return launch_width<T, 2>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, eps, stream);
    case 4: return launch_width<T, 4>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, eps, stream);
    case 8: return launch_width<T, 8>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, eps, stream);
    default: return launch_width<T, 16>(out, out_row_stride, x, x_row_stride, scale, shift, rows, rows_per_batch, eps, stream);
  }
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
